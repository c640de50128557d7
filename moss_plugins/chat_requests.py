"""What every caller of an OpenAI-compatible chat endpoint here shares: one bounded request, a persistent reply
cache and the retry wait. Used by trace rewriting (``moss_plugins.data.rewrite``) and the LLM judge
(``moss_plugins.lmms_eval.judge``). Which failures are retried, and how long to wait, stays with each (one asyncio
run with a global 429 pause; one client shared by lmms-eval's scoring threads); what one attempt is — a total
deadline, and a reply that counts only if it is a chat completion with text — is decided here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

TIMEOUT = "timeout"
CONNECTION = "connection error"
NOT_JSON = "malformed response (not JSON)"
NOT_A_COMPLETION = "malformed response (no message content)"


class AttemptFailed(Exception):
    """One request got no usable reply. ``reason`` names how (also a counter key); for an HTTP error reply
    ``status``, ``message`` and ``headers`` say which."""

    def __init__(self, reason: str, status: int | None = None, message: str = "", headers: Any = None):
        super().__init__(reason if status is None else f"HTTP {status}: {message}")
        self.reason, self.status, self.message, self.headers = reason, status, message, headers


def completion_text(response: Any) -> str:
    """The message text of a chat completion; :class:`AttemptFailed` for whatever else a server answers 200 with
    (a text/plain body, which the ``openai`` client returns as a ``str``; ``choices`` empty, null or not a list;
    no message; content null, not text or blank)."""
    choices = getattr(response, "choices", None)
    first = choices[0] if isinstance(choices, list) and choices else None
    content = getattr(getattr(first, "message", None), "content", None)
    if not isinstance(content, str) or not content.strip():
        raise AttemptFailed(NOT_A_COMPLETION)
    return content


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``, cancelled after ``seconds`` in total (:class:`AttemptFailed` "timeout"). httpx's timeouts
    bound each connect, write and read, not their sum: a server that sends its headers and then one byte per
    second keeps a request alive for as long as it likes, unless a deadline like this one covers it all."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise AttemptFailed(TIMEOUT) from None


async def request_completion(client: Any, deadline: float, **request: Any) -> str:
    """One chat completion through an ``openai.AsyncOpenAI`` client (its ``max_retries`` should be 0: retries are
    the caller's), within ``deadline`` seconds whatever the server does; its text, or :class:`AttemptFailed`."""
    import openai

    try:
        response = await within(deadline, client.chat.completions.create(**request))
    except openai.APITimeoutError:
        raise AttemptFailed(TIMEOUT) from None
    except openai.APIConnectionError:
        raise AttemptFailed(CONNECTION) from None
    except openai.APIStatusError as e:
        raise AttemptFailed(f"HTTP {e.status_code}", e.status_code, e.message, e.response.headers) from None
    except (ValueError, openai.APIResponseValidationError):  # a body that is not JSON
        raise AttemptFailed(NOT_JSON) from None
    return completion_text(response)


class LoopThread:
    """An asyncio event loop on a daemon thread, so that synchronous callers (lmms-eval's scoring threads) run the
    same bounded requests as asynchronous ones: :meth:`run` blocks its caller until the coroutine is done. The
    clients used in it must be created for it (their connections belong to this loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="moss-chat-requests", daemon=True).start()

    def run(self, coroutine: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


def cache_key(*parts) -> str:
    """sha256 of the JSON of ``parts`` (model, prompt version, messages, ...): equal requests, equal keys."""
    payload = json.dumps(list(parts), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ReplyCache:
    """Replies by key in one SQLite file, each committed as it arrives, so an interrupted run resumes and a re-run
    repeats nothing. A connection per operation (and WAL) makes it safe across threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, at REAL)")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:  # commits on success
                yield db
        finally:
            db.close()

    def get(self, key: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, reply: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, reply, time.time()))


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Wait before retry number ``attempt + 1``: exponential with "equal jitter", in [b/2, b] for
    b = min(cap, base * 2**attempt), so clients that failed together do not retry together."""
    b = min(cap, base * 2**attempt)
    return b / 2 + (rng or random).uniform(0, b / 2)
