"""What every caller of an OpenAI-compatible chat endpoint here shares: a persistent reply cache and the retry
wait. Used by trace rewriting (``moss_plugins.data.rewrite``) and the LLM judge
(``moss_plugins.lmms_eval.judge``); their retry policies differ (one asyncio run with a global 429 pause, one
client shared by lmms-eval's scoring threads), so the request loops stay with them. Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path


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
