"""Rewriting built reference traces through any OpenAI-compatible chat endpoint (the paper used GPT-4o).

The model sees only what the sample's model may see: the observed segments (timestamped captions) and the
cut time. Never the question, the options or the answer, which name the future, so a rewritten trace cannot
leak it. The reply must be JSON steps whose time spans lie inside the observed window; a reply that is not
keeps the caption trace and is counted by reason. The builder's final inference step (at the cut) is kept.

Requests go through :mod:`moss_plugins.llm_client`: a total deadline per request, retries with backoff and
jitter on 5xx, timeouts, dropped connections and malformed replies, a 429 pausing every request for its
``Retry-After``, at most ``max_concurrency`` requests in flight and ``requests_per_minute`` evenly spaced. Here:

- replies are cached by (model, prompt) as they arrive: a run that crashes and is started again repeats no
  finished request, and identical prompts (several questions cut at the same point of a video) are sent once;
- any HTTP error the client does not retry (401 bad key, 404 unknown model, 400 bad request) is a configuration
  error and stops the run at once: every prompt has the same form, so every one would fail alike.

Endpoint and key follow the conventions of lmms-eval and the ``openai`` package: ``--base-url`` or
``$OPENAI_API_BASE`` (or ``$OPENAI_BASE_URL``), key from ``$OPENAI_API_KEY``. Servers that ignore keys (vLLM,
SGLang, a local proxy) need none.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..llm_client import (
    Endpoint,
    LLMClient,
    LLMConfigError,
    Policy,
    ReplyCache,
    RequestFailed,
    RequestRefused,
    cache_key,
)
from ..json_text import TooDeep, parse_json
from ..options import check, integer, number
from ..sample import Sample, TraceStep

MAX_STEP_CHARS = 2000

SYSTEM_PROMPT = (
    "You write step-by-step reasoning traces for video question answering. You are given timestamped "
    "descriptions of the part of a video that has been watched. Turn them into concise reasoning steps about "
    "what is observed and how the state of the objects changes. Use only what the descriptions say; never "
    "guess what happens after the last time given."
)

# The endpoint, model or key is wrong, or an option is out of range (the chat client's configuration error).
RewriteConfigError = LLMConfigError


class RejectedReply(ValueError):
    """A reply that is not a usable trace; the message is the reason, used as a counter key."""


def _model(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a model name is required with --rewrite (--model NAME)")
    return value


REWRITE_RULES = {
    "model": _model,
    "requests_per_minute": number(0, low_open=True),
    "max_concurrency": integer(1),
    "max_retries": integer(0),
}


@dataclass(frozen=True)
class RewriteConfig:
    model: str
    base_url: str | None = None  # None: $OPENAI_API_BASE, then $OPENAI_BASE_URL, then OpenAI's API
    api_key_env: str = "OPENAI_API_KEY"
    cache_path: str | Path = "rewrite_cache.sqlite"
    requests_per_minute: float = 60.0
    max_concurrency: int = 4
    max_retries: int = 6
    backoff_base: float = 1.0  # seconds before the first retry (doubling, with jitter)
    backoff_max: float = 60.0
    timeout: float = 120.0  # seconds per request, in total
    temperature: float = 0.0
    max_tokens: int = 1024

    def __post_init__(self):
        check(self, REWRITE_RULES, "rewrite option ", RewriteConfigError)

    def endpoint(self) -> Endpoint:
        """Where the requests go; :class:`RewriteConfigError` now when OpenAI's API would get no key."""
        return Endpoint.resolve(
            self.model,
            self.base_url,
            ("OPENAI_API_BASE", "OPENAI_BASE_URL"),
            self.api_key_env,
            url_source="--base-url",
            model_source="--model",
        )

    def client(self, **injected) -> LLMClient:
        """The chat client for one :func:`rewrite_traces` call (``injected``: ``clock``, ``sleep``, ``rng``)."""
        policy = Policy(
            self.max_retries + 1,
            self.backoff_base,
            self.backoff_max,
            self.timeout,
            self.max_concurrency,
            self.requests_per_minute,
        )
        return LLMClient(self.endpoint(), policy, self.temperature, self.max_tokens, **injected)


def build_messages(observed: Sequence[TraceStep], observed_until: float) -> list[dict]:
    """The prompt for one trace: the observed steps and the cut, nothing from after it."""
    timeline = "\n".join(f"[{s.t[0]:g}-{s.t[1]:g} s] {s.text}" for s in observed)
    user = (
        f"The video has been watched from 0 to {observed_until:g} s. What is seen, with times:\n{timeline}\n\n"
        "Rewrite this as a reasoning trace: one step per meaningful observation or change, in time order, each "
        f"with the time span it covers (between 0 and {observed_until:g} s) and the state of the objects "
        "involved after that step. Reply with JSON only, in this form:\n"
        '{"steps": [{"t": [start, end], "text": "...", "state": {"object": "state"}}]}'
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_reply(reply: str, observed_until: float, n_observed: int) -> tuple[TraceStep, ...]:
    """The steps of a reply; raises RejectedReply(reason) when it is not a usable trace."""
    text = _FENCE_RE.sub("", reply.strip())
    start, end = text.find("{"), text.rfind("}")
    try:
        obj = parse_json(text[start : end + 1]) if start >= 0 else None
    except TooDeep:
        raise RejectedReply("JSON nested too deep") from None
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise RejectedReply("not a JSON object")
    items = obj.get("steps")
    if not isinstance(items, list) or not items:
        raise RejectedReply("no steps")
    if len(items) > max(4, 3 * n_observed):
        raise RejectedReply("too many steps")
    steps, last_start = [], 0.0
    for item in items:
        if not isinstance(item, dict):
            raise RejectedReply("a step is not an object")
        span = item.get("t")
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in span)
        ):
            raise RejectedReply("a step has no [start, end] time span")
        t0, t1 = float(span[0]), float(span[1])
        if not 0 <= t0 <= t1 <= observed_until + 1e-6:
            raise RejectedReply("a time span outside the observed window")
        if t0 < last_start:
            raise RejectedReply("steps out of time order")
        last_start = t0
        content = item.get("text")
        if not isinstance(content, str) or not content.strip() or len(content) > MAX_STEP_CHARS:
            raise RejectedReply("a step without usable text")
        state = item.get("state", {})
        if not isinstance(state, dict):
            raise RejectedReply("a state that is not an object")
        state = {
            str(k): v if isinstance(v, (str, int, float, bool)) else json.dumps(v) for k, v in state.items()
        }
        steps.append(TraceStep((t0, t1), " ".join(content.split()), state))
    return tuple(steps)


@dataclass
class RewriteReport:
    samples: int = 0
    prompts: int = 0  # distinct prompts (samples cut at the same point share one)
    cached: int = 0  # prompts answered from the cache, without a request
    rewritten: int = 0  # samples whose trace was replaced
    rejected: Counter = field(default_factory=Counter)  # reason -> samples that kept the caption trace
    failed: int = 0  # prompts still failing after all retries (a rerun retries them)
    client: Counter = field(default_factory=Counter)  # requests, retries, and what went wrong

    def to_json(self) -> dict:
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in self.__dict__.items()}


def rewrite_traces(
    samples: Sequence[Sample], config: RewriteConfig, client: LLMClient | None = None, progress: bool = True
) -> tuple[list[Sample], RewriteReport]:
    """Samples whose observed steps (all trace steps but the last, the inference at the cut) are rewritten.
    ``client``: one made by ``config.client()`` for this call (it is closed with this call's event loop)."""
    return _rewrite(samples, config, ReplyCache(config.cache_path), client, progress)


def _rewrite(samples, config, cache, client, progress):
    report = RewriteReport(samples=len(samples))
    keys, messages = [], {}
    for s in samples:
        m = build_messages(s.trace[:-1], s.observed_until)
        key = cache_key(config.model, m)
        keys.append(key)
        messages.setdefault(key, m)
    report.prompts = len(messages)
    todo = [k for k in messages if cache.get(k) is None]
    report.cached = report.prompts - len(todo)
    if todo:
        client = client or config.client()
        asyncio.run(_request_all(client, cache, {k: messages[k] for k in todo}, report, progress))
        report.client = client.stats
    out = []
    for s, key in zip(samples, keys):
        reply = cache.get(key)
        if reply is None:
            out.append(s)
            continue
        try:
            steps = parse_reply(reply, s.observed_until, len(s.trace) - 1)
        except RejectedReply as e:
            report.rejected[str(e)] += 1
            out.append(replace(s, meta={**s.meta, "rewrite_rejected": str(e)}))
            continue
        report.rewritten += 1
        out.append(
            replace(
                s, trace=steps + s.trace[-1:], meta={**s.meta, "trace_source": f"rewritten:{config.model}"}
            )
        )
    return out, report


async def _request_all(
    client: LLMClient, cache: ReplyCache, todo: dict, report: RewriteReport, progress: bool
) -> None:
    from tqdm.auto import tqdm

    async def one(key):
        try:
            cache.put(key, await client.complete(todo[key]))
        except RequestRefused as e:  # every prompt has the same form: the others would be refused too
            raise client.endpoint.rejection(e.status, e.message) from None
        except RequestFailed:
            report.failed += 1

    tasks = [asyncio.ensure_future(one(k)) for k in todo]
    try:
        with tqdm(
            total=len(tasks), desc="rewrite", unit="prompt", disable=not progress, dynamic_ncols=True
        ) as bar:
            for done in asyncio.as_completed(tasks):
                await done
                bar.update(1)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()  # its connections belong to this event loop
