"""An LLM judge of reasoning-trace consistency (the paper's GPT-4o-as-judge evaluation), opt-in.

Used by the ``moss_video_judge``, ``mvbench_moss_judge`` and ``mmvu_moss_judge`` tasks. The judge reads the question,
the options, the model's output and, when there is one, the reference trace, and rates from 1 to 5 how
consistent the reasoning is (steps that agree with each other and with the video's events, in their order, and
a conclusion that supports the answer). ``judge_consistency`` = (rating - 1) / 4, in [0, 1].

Environment, following lmms-eval's judge conventions (``lmms_eval.llm_judge`` and its tasks):

- ``API_TYPE``: ``openai`` (default; any OpenAI-compatible endpoint: OpenAI, vLLM, SGLang, ...) or another
  ``lmms_eval.llm_judge`` provider (``azure``, ...), which is then used for the request itself (inside
  lmms-eval: :mod:`moss_plugins.lmms_eval.judge_provider` registers them).
- ``OPENAI_API_KEY`` (``EMPTY`` for a local server), ``OPENAI_API_URL``: the base URL
  (``https://api.openai.com/v1`` by default; the ``.../chat/completions`` form several lmms-eval tasks use works too).
- ``MODEL_VERSION``: the judge model (default ``gpt-4o-2024-11-20``, as in lmms-eval).

And ours: ``MOSS_JUDGE_CACHE`` (SQLite file; default ``<cache>/judge.sqlite``), ``MOSS_JUDGE_CONCURRENCY``
(requests in flight, default 4), ``MOSS_JUDGE_RETRIES`` (attempts, default 5), ``MOSS_JUDGE_BACKOFF`` (first
wait in seconds, doubled per attempt with jitter, at most 30 s; default 1), ``MOSS_JUDGE_TIMEOUT`` (seconds per
request in total, connect to last byte, default 60).

Requests go through :mod:`moss_plugins.llm_client` (its deadline, retry policy and reply check). Each verdict is
cached under a hash of the judge model, the prompt version and the full prompt, as soon as it arrives: an
interrupted evaluation resumes where it stopped, and a re-run costs no requests. Transient errors (connection,
timeout, 408/409/425/429, 5xx) and unreadable replies are retried with backoff; after the last attempt, or after
another 4xx, the sample has no judge score (logged, not cached, so a re-run tries again). A wrong key, URL or
model (401/403/404) raises :class:`JudgeConfigError` at once: every sample would fail the same way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from ..env import CACHE_ENV, cache_root, env_number
from ..json_text import TooDeep, parse_json
from ..llm_client import (
    Endpoint,
    LLMClient,
    LLMConfigError,
    LoopThread,
    Policy,
    ReplyCache,
    RequestFailed,
    Send,
    cache_key,
)
from ..output_format import format_options

log = logging.getLogger("moss_plugins.evaluation.judge")

PROMPT_VERSION = "moss-judge-v1"
DEFAULT_MODEL = "gpt-4o-2024-11-20"
MAX_BACKOFF = 30.0
MAX_TOKENS = 256

SYSTEM_PROMPT = (
    "You are a strict evaluator of video reasoning. You judge whether a model's step-by-step reasoning about a "
    "video is consistent. You do not see the video."
)
RUBRIC = """Rate the consistency of the model's reasoning from 1 to 5:
5 - every step agrees with the others{ref_clause}, events are described in the order they happen, and the conclusion clearly supports the chosen answer;
4 - minor gaps or vague steps, no contradiction, and the conclusion supports the answer;
3 - some steps are unsupported or out of order, or the conclusion only weakly supports the answer;
2 - steps contradict each other{ref_clause2}, or the conclusion does not follow from the steps;
1 - no real reasoning, or the answer contradicts the reasoning.
Reply with JSON only: {{"consistency": <1-5>, "supports_answer": <true|false>, "explanation": "<one sentence>"}}"""


# The judge endpoint rejects the configuration (key, URL, model), or a MOSS_JUDGE_* number is out of range: fix the
# environment variables (the chat client's configuration error).
JudgeConfigError = LLMConfigError


@dataclass(frozen=True)
class Verdict:
    score: float | None  # (consistency - 1) / 4, None when the judge gave no usable answer
    consistency: int | None = None
    supports_answer: bool | None = None
    explanation: str = ""
    model: str = ""
    error: str = ""
    cached: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    api_type: str
    model: str
    endpoint: Endpoint | None  # None: an lmms_eval.llm_judge provider sends the requests
    cache_path: Path
    policy: Policy

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        number = partial(env_number, error=JudgeConfigError, env=env)
        policy = Policy(
            attempts=number("MOSS_JUDGE_RETRIES", 5, kind=int, least=1),
            backoff_base=number("MOSS_JUDGE_BACKOFF", 1.0, least=0.0),
            backoff_max=MAX_BACKOFF,
            timeout=number("MOSS_JUDGE_TIMEOUT", 60.0, least=0.001),
            concurrency=number("MOSS_JUDGE_CONCURRENCY", 4, kind=int, least=1),
        )
        api_type = env.get("API_TYPE", "openai").strip().lower()
        model = env.get("MODEL_VERSION", DEFAULT_MODEL)
        endpoint = None
        if api_type == "openai":
            endpoint = Endpoint.resolve(
                model,
                url_env=("OPENAI_API_URL",),
                url_source="OPENAI_API_URL",
                model_source="MODEL_VERSION",
                env=env,
            )
        cache_path = Path(env.get("MOSS_JUDGE_CACHE") or cache_root() / "judge.sqlite").expanduser()
        return cls(api_type, model, endpoint, cache_path, policy)


def build_messages(
    question: str, options: Sequence[str] | None, output: str, reference: Sequence | None = None
) -> list[dict]:
    """The judge prompt. ``reference`` is the reference trace (step texts or ``{"text": ...}`` steps)."""
    parts = [f"Question: {question.strip()}"]
    if options:
        parts.append("Options:\n" + format_options(options))
    if reference:
        steps = [s["text"] if isinstance(s, dict) else str(s) for s in reference]
        parts.append(
            "Reference reasoning (what happens in the video, in order):\n"
            + "\n".join(f"- {s}" for s in steps)
        )
    parts.append(f"Model output:\n{output.strip() or '(empty)'}")
    ref_clause = " and with the reference" if reference else ""
    parts.append(RUBRIC.format(ref_clause=ref_clause, ref_clause2=" or the reference" if reference else ""))
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_verdict(content: str) -> tuple[int, bool | None, str]:
    """(consistency, supports_answer, explanation) from the judge's reply; ValueError when there is none, or
    when its JSON is nested too deep (a malformed reply, asked again)."""
    match = re.search(r"\{.*\}", content, re.DOTALL)
    if match:
        try:
            data = parse_json(match.group(0))
            rating = int(round(float(data["consistency"])))
            supports = data.get("supports_answer")
            if 1 <= rating <= 5:
                return (
                    rating,
                    supports if isinstance(supports, bool) else None,
                    str(data.get("explanation", "")),
                )
        except TooDeep as e:
            raise ValueError(f"the judge's reply is {e}") from None
        except (ValueError, KeyError, TypeError):
            pass
    match = re.search(r"consistency\W*([1-5])\b", content, re.IGNORECASE)
    if match:
        return int(match.group(1)), None, ""
    raise ValueError(f"no 1-5 consistency rating in the judge's reply: {content[:200]!r}")


class Judge:
    """Cached, retrying, concurrency-bounded judge; thread-safe (lmms-eval scores docs in threads): every thread's
    requests run on one event loop, through one client, so the concurrency bound holds across them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        try:
            self.cache = ReplyCache(settings.cache_path)
        except (OSError, sqlite3.Error) as e:
            raise JudgeConfigError(
                f"MOSS_JUDGE_CACHE={settings.cache_path}: the verdict cache cannot be opened there "
                f"({e}); set MOSS_JUDGE_CACHE, or {CACHE_ENV}, to a writable place"
            ) from None
        self._loop = LoopThread()
        send = None if settings.endpoint is not None else _provider(settings)
        self.client = LLMClient(settings.endpoint, settings.policy, max_tokens=MAX_TOKENS, send=send)

    def judge(self, messages: list[dict]) -> Verdict:
        key = cache_key(self.settings.model, PROMPT_VERSION, messages)
        hit = self.cache.get(key)
        if hit is not None:
            return Verdict(**{**parse_json(hit), "cached": True})
        try:
            rating, supports, explanation = self._loop.run(self.client.complete(messages, parse_verdict))
        except RequestFailed as e:
            log.warning("moss judge: no verdict for this sample (%s)", e.detail)
            return Verdict(None, model=self.settings.model, error=e.detail)
        verdict = Verdict((rating - 1) / 4, rating, supports, explanation, self.settings.model)
        self.cache.put(key, json.dumps(verdict.to_json()))
        return verdict


# Sends requests for an API_TYPE other than openai: lmms-eval's judge providers, set by the lmms-eval adapter
# (moss_plugins.lmms_eval.judge_provider) when the tasks load it, so this module imports no framework.
PROVIDER: Callable[[Settings], Send] | None = None


def _provider(settings: Settings) -> Send:
    if PROVIDER is None:
        raise JudgeConfigError(
            f"API_TYPE={settings.api_type!r} is served by lmms-eval's judge providers: run the "
            "judge tasks in lmms-eval, or set API_TYPE=openai for any OpenAI-compatible server"
        )
    return PROVIDER(settings)


_JUDGES: dict[Settings, Judge] = {}
_JUDGES_LOCK = threading.Lock()


def default_judge() -> Judge:
    """One judge per configuration (environment), shared by all threads, so its concurrency bound holds across
    lmms-eval's scoring threads (the lock: concurrent first calls would each build their own)."""
    settings = Settings.from_env()
    with _JUDGES_LOCK:
        if settings not in _JUDGES:
            _JUDGES[settings] = Judge(settings)
        return _JUDGES[settings]


def judge_trace(
    question: str, options: Sequence[str] | None, output: str, reference: Sequence | None = None
) -> Verdict:
    return default_judge().judge(build_messages(question, options, output, reference))
