"""The one client of OpenAI-compatible chat endpoints, for trace rewriting (:mod:`moss_plugins.data.rewrite`) and
the LLM judge (:mod:`moss_plugins.evaluation.judge`); those keep only their prompts, their parsing and their
settings' names. Decided here, once:

- where the endpoint is (:meth:`Endpoint.resolve`): a base URL (the ``.../chat/completions`` form works too) or
  OpenAI's API, whose key is required; other servers (vLLM, SGLang, a local proxy) may ignore the key;
- what one attempt is: a total deadline (connect, headers and body together, however slowly a server sends
  them) around whatever sends the request, a body read up to :data:`MAX_REPLY_BYTES` once decoded (a gzip bomb
  stops there), and a reply that counts only if it is text (:func:`reply_text`);
- the retry policy (:meth:`LLMClient.complete`): timeouts, dropped connections, malformed replies, replies the
  caller cannot parse, 408/409/425 and 5xx are retried with exponential backoff and jitter; a 429 pauses every
  request of the client for its ``Retry-After`` (or the backoff); 401/403/404 say the key, URL or model is wrong,
  so every request would fail alike (:class:`LLMConfigError`, at once); another 4xx refuses this request only
  (:class:`RequestRefused`, not retried: a prompt too long, say);
- a bound on requests in flight and, optionally, on requests per minute (evenly spaced);
- a persistent cache of replies (:class:`ReplyCache`) keyed by :func:`cache_key`.

Asynchronous; :class:`LoopThread` runs it for synchronous callers (lmms-eval's scoring threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import math
import os
import random
import sqlite3
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .json_text import parse_json

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

OPENAI_URL = "https://api.openai.com/v1"
TIMEOUT = "timeout"
CONNECTION = "connection error"
NOT_JSON = "malformed response (not JSON)"
NOT_A_COMPLETION = "malformed response (no message content)"
UNREADABLE = "unreadable reply"  # a completion the caller's parser rejects
TOO_LARGE = "reply too large"
# A reply body's bytes at most, decoded (gzip included): a completion of max_tokens is a few KB, and a server that
# sends more (or a small gzip that inflates to gigabytes) is cut off here instead of filling memory or a cache.
MAX_REPLY_BYTES = 4 * 2**20
ACCEPTED_ENCODINGS = ("gzip", "deflate")  # what read_body decompresses
CONFIG_STATUS = frozenset({401, 403, 404})  # the key, URL or model is wrong: every request would fail alike
RETRY_STATUS = frozenset({408, 409, 425, 429})  # and every 5xx
MAX_RETRY_AFTER = 600.0  # seconds; a larger Retry-After is clamped rather than stalling a run for hours


class LLMConfigError(ValueError):
    """The endpoint, model or key (or a setting of the client) is wrong: retrying cannot fix it."""


class AttemptFailed(Exception):
    """One request got no usable reply. ``reason`` names how (also a counter key); for an HTTP error reply
    ``status``, ``message`` and ``headers`` say which."""

    def __init__(self, reason: str, status: int | None = None, message: str = "", headers: Any = None):
        detail = (
            f"HTTP {status}: {message}"
            if status is not None
            else f"{reason}: {message}"
            if message
            else reason
        )
        super().__init__(detail)
        self.reason, self.status, self.message, self.headers = reason, status, message, headers


class RequestFailed(RuntimeError):
    """A request got no usable reply in all its attempts. ``reason``: how the last one failed (a counter key);
    ``detail``: the same with what the server said."""

    def __init__(self, reason: str, detail: str, attempts: int):
        super().__init__(f"{detail} after {attempts} attempt{'s' if attempts > 1 else ''}")
        self.reason, self.detail = reason, detail


class RequestRefused(RequestFailed):
    """The endpoint refused this request (a 4xx other than a configuration error); retrying would not help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}", f"HTTP {status}: {message}", 1)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Endpoint:
    """Where requests go, and (``*_source``) where the user set each part, for the messages that ask to fix it."""

    model: str
    base_url: str
    api_key: str
    key_env: str = "OPENAI_API_KEY"
    url_source: str = "the base URL"
    model_source: str = "the model"

    @classmethod
    def resolve(
        cls,
        model: str,
        base_url: str | None = None,
        url_env: Sequence[str] = (),
        key_env: str = "OPENAI_API_KEY",
        url_source: str = "the base URL",
        model_source: str = "the model",
        env: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """``base_url``, else the first of the ``url_env`` variables set, else OpenAI's API; the key from
        ``$key_env``, which only OpenAI's API requires (the client needs one: ``EMPTY`` for servers without)."""
        env = os.environ if env is None else env
        url = base_url or next((env[name] for name in url_env if env.get(name)), None) or OPENAI_URL
        url = url.rstrip("/").removesuffix("/chat/completions")
        key = env.get(key_env, "")
        if not key and url == OPENAI_URL:
            raise LLMConfigError(
                f"set ${key_env} to use OpenAI's API, or give {url_source} for another "
                "OpenAI-compatible server"
            )
        return cls(model, url, key or "EMPTY", key_env, url_source, model_source)

    def rejection(self, status: int, message: str) -> LLMConfigError:
        return LLMConfigError(
            f"{self.base_url}: HTTP {status} for model {self.model!r}: {message}. "
            f"Check {self.url_source}, {self.model_source} and ${self.key_env}."
        )


@dataclass(frozen=True)
class Policy:
    """How hard the client tries: ``attempts`` per request, waits of ``backoff_base`` seconds doubling up to
    ``backoff_max`` (with jitter), a total ``timeout`` per attempt, at most ``concurrency`` requests in flight
    and, unless None, ``requests_per_minute``."""

    attempts: int
    backoff_base: float
    backoff_max: float
    timeout: float
    concurrency: int
    requests_per_minute: float | None = None


def reply_text(content: Any) -> str:
    """``content`` if it is text with something in it; :class:`AttemptFailed` otherwise (null, not text, blank)."""
    if not isinstance(content, str) or not content.strip():
        raise AttemptFailed(NOT_A_COMPLETION)
    return content


def completion_text(response: Any) -> str:
    """The message text of a chat completion (its JSON); :class:`AttemptFailed` for whatever else a server answers
    200 with (``choices`` empty, null or not a list; no message; no text)."""
    choices = response.get("choices") if isinstance(response, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    return reply_text(message.get("content") if isinstance(message, dict) else None)


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``, cancelled after ``seconds`` in total (:class:`AttemptFailed` "timeout"). httpx's timeouts
    bound each connect, write and read, not their sum: a server that sends its headers and then one byte per
    second keeps a request alive for as long as it likes, unless a deadline like this one covers it all."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise AttemptFailed(TIMEOUT) from None


async def request_completion(http: httpx.AsyncClient, endpoint: Endpoint, **request: Any) -> str:
    """One chat completion (``POST {base_url}/chat/completions``): its text, or :class:`AttemptFailed`. Redirects
    are followed (httpx drops the key on a redirect to another host); every body, an error's too, is read through
    :func:`read_body`."""
    import httpx

    headers = {
        "Authorization": f"Bearer {endpoint.api_key}",
        "Accept-Encoding": ", ".join(ACCEPTED_ENCODINGS),
    }
    try:
        async with http.stream(
            "POST", f"{endpoint.base_url}/chat/completions", json=request, headers=headers
        ) as r:
            body = await read_body(r)
    except httpx.TimeoutException:
        raise AttemptFailed(TIMEOUT) from None
    except httpx.RequestError as e:
        raise AttemptFailed(CONNECTION, message=str(e)) from None
    if r.status_code >= 300:
        raise AttemptFailed(f"HTTP {r.status_code}", r.status_code, _error_message(body), r.headers)
    try:
        response = parse_json(body)
    except ValueError:  # not JSON, not UTF-8, nested too deeply
        raise AttemptFailed(NOT_JSON) from None
    return completion_text(response)


async def read_body(response: httpx.Response, limit: int = MAX_REPLY_BYTES) -> bytes:
    """The decoded body, or :class:`AttemptFailed` (:data:`TOO_LARGE`) as soon as it passes ``limit`` bytes.
    Decompressed here, never more than ``limit + 1`` bytes at a time: httpx's own decoder inflates each network
    read whole, and 64 KiB of gzip can hold 64 MiB."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", *ACCEPTED_ENCODINGS):
        raise AttemptFailed(NOT_JSON, message=f"a body in {encoding!r}, which was not asked for")
    # gzip or zlib header
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding != "identity" else None
    body = bytearray()
    async for chunk in response.aiter_raw():
        while chunk:
            if inflate is None:
                body += chunk
                chunk = b""
            else:
                try:
                    body += inflate.decompress(chunk, limit + 1 - len(body))
                except zlib.error:
                    raise AttemptFailed(NOT_JSON, message="the body cannot be decompressed") from None
                chunk = inflate.unconsumed_tail
            if len(body) > limit:
                raise AttemptFailed(TOO_LARGE, message=f"more than {limit} bytes")
    return bytes(body)


def _error_message(body: bytes) -> str:
    """What an error reply says: OpenAI's ``{"error": {"message": ...}}``, else the start of its text."""
    try:
        error = parse_json(body).get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    except (ValueError, AttributeError):
        pass
    return body[:300].decode("utf-8", "replace").strip()


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Wait before retry number ``attempt + 1``: exponential with "equal jitter", in [b/2, b] for
    b = min(cap, base * 2**attempt), so clients that failed together do not retry together."""
    b = min(cap, base * 2**attempt)
    return b / 2 + (rng or random).uniform(0, b / 2)


def retry_after(headers: Any) -> float | None:
    """A ``Retry-After`` header's wait in seconds (a number or an HTTP date), at most :data:`MAX_RETRY_AFTER`;
    None when it asks for no wait (zero, negative, a past date) or for none that can be waited (``nan``, text)."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds) or seconds <= 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


class RateLimiter:
    """Starts at most ``per_minute`` requests a minute (None: no limit), evenly spaced; ``hold`` pauses
    everyone (a 429). Used from one event loop."""

    def __init__(
        self, per_minute: float | None, clock: Callable[[], float], sleep: Callable[[float], Awaitable]
    ):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = float("-inf")

    async def acquire(self) -> None:
        now = self.clock()
        slot = max(now, self._next)
        self._next = slot + self.interval  # reserved before awaiting, so concurrent callers queue up
        if slot > now:
            await self.sleep(slot - now)

    def hold(self, seconds: float) -> None:
        self._next = max(self._next, self.clock() + seconds)


Send = Callable[[list[dict]], Awaitable[str]]


class LLMClient:
    """``await complete(messages)``: the reply's text (or what ``parse`` makes of it), under :class:`Policy`.

    ``send`` replaces the request itself (lmms-eval's judge providers); by default it is a chat completion at
    ``endpoint`` (needed then) with ``temperature`` and ``max_tokens``, sent through one ``httpx`` client.
    ``clock``/``sleep``/``rng`` are injectable so that tests can check the waits without waiting. The client belongs to the event loop it is
    first used in (its connections do): :meth:`aclose` it there when done. ``stats`` counts requests, retries
    and each way a request failed.
    """

    def __init__(
        self,
        endpoint: Endpoint | None,
        policy: Policy,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        send: Send | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable] = asyncio.sleep,
        rng: random.Random | None = None,
    ):
        self.endpoint, self.policy = endpoint, policy
        self.http = None
        if send is None:
            import httpx

            self.http = httpx.AsyncClient(timeout=policy.timeout, follow_redirects=True)

            async def send(messages: list[dict]) -> str:
                return await request_completion(
                    self.http,
                    endpoint,
                    model=endpoint.model,
                    messages=messages,
                    temperature=temperature,
                    max_tokens=max_tokens,
                )

        self._send = send
        self.limiter = RateLimiter(policy.requests_per_minute, clock, sleep)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats: Counter = Counter()
        self._slots = asyncio.Semaphore(policy.concurrency)

    def backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.policy.backoff_base, self.policy.backoff_max, self.rng)

    async def complete(self, messages: Sequence[dict], parse: Callable[[str], T] | None = None) -> str | T:
        """The reply to ``messages``; with ``parse``, ``parse(reply)``, a ValueError from it being one more way an
        attempt fails. :class:`RequestFailed` when every attempt failed, :class:`RequestRefused` when the
        endpoint refused this request, :class:`LLMConfigError` when it refuses the configuration."""
        attempts = self.policy.attempts
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            async with self._slots:
                await self.limiter.acquire()
                self.stats["requests"] += 1
                try:
                    reply = await within(self.policy.timeout, self._send(list(messages)))
                    return reply if parse is None else parse(reply)
                except AttemptFailed as e:
                    (reason, delay), detail = self._failure(e, attempt), str(e)
                except ValueError as e:  # the caller's parser: asking again may help
                    reason, detail, delay = UNREADABLE, str(e), self.backoff(attempt)
            self.stats[reason] += 1
            if delay and attempt < attempts - 1:
                await self.sleep(delay)  # outside the concurrency slot: others may go meanwhile
        raise RequestFailed(reason, detail, attempts)

    def _failure(self, e: AttemptFailed, attempt: int) -> tuple[str, float]:
        """(counter key, wait before the next attempt) of a failed attempt that may be retried."""
        if e.status == 429:
            self.limiter.hold(retry_after(e.headers) or self.backoff(attempt))
            return "rate limited (429)", 0.0  # the limiter now makes every request wait, this one included
        if e.status in CONFIG_STATUS:
            raise self.endpoint.rejection(e.status, e.message) from None
        if e.status is not None and e.status not in RETRY_STATUS and e.status < 500:
            raise RequestRefused(e.status, e.message) from None
        return (e.reason if e.status is None else f"server error ({e.status})"), self.backoff(attempt)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()


class LoopThread:
    """An asyncio event loop on a daemon thread, so that synchronous callers (lmms-eval's scoring threads) share
    one client: :meth:`run` blocks its caller until the coroutine is done. The clients used in it must be used
    only in it (their connections and their concurrency bound belong to this loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="moss-llm-client", daemon=True).start()

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
            db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, at REAL)"
            )

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
