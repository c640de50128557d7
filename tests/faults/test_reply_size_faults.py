"""Replies too large to be a chat completion, compressed or not, and ``Retry-After`` values that are not a wait:
the chat client reads at most ``MAX_REPLY_BYTES`` of a decoded body, inside the attempt's deadline, and clamps
every wait a server asks for."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
import tracemalloc

import pytest
from fake_chat import FakeChatServer, aim_the_judge, completion

from moss_plugins.evaluation import judge
from moss_plugins.llm_client import (
    MAX_REPLY_BYTES,
    MAX_RETRY_AFTER,
    TOO_LARGE,
    Endpoint,
    LLMClient,
    Policy,
    retry_after,
)

VERDICT = json.dumps({"consistency": 4, "supports_answer": True, "explanation": "ok"})
INFLATED = 64 * 2**20  # bytes of the decoded body: 16 times the cap


def huge_reply(compressed: bool) -> tuple[int, dict, bytes]:
    """A well-formed completion whose text is a verdict followed by 64 MiB of spaces (64 KiB gzipped)."""
    body = completion(VERDICT + " " * INFLATED)
    return (200, {"Content-Encoding": "gzip"}, gzip.compress(body, 1)) if compressed else (200, {}, body)


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip-bomb", "plain"])
def test_the_judge_refuses_a_reply_larger_than_the_cap_within_its_deadline(monkeypatch, tmp_path, compressed):
    reply = huge_reply(compressed)
    with FakeChatServer(lambda server, body, action: reply) as server:
        aim_the_judge(monkeypatch, server, tmp_path / "judge.sqlite")
        monkeypatch.setenv("MOSS_JUDGE_TIMEOUT", "5")
        tracemalloc.start()
        try:
            start = time.monotonic()
            verdict = judge.judge_trace("What next?", ["a", "b"], "<think>x</think><answer>A</answer>")
            elapsed = time.monotonic() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            judge._JUDGES.clear()
    assert verdict.score is None and verdict.error.startswith(TOO_LARGE)
    assert len(server.requests) == 3 and elapsed < 15
    assert peak < 4 * MAX_REPLY_BYTES, (
        f"{peak / 2**20:.0f} MiB held for a body capped at {MAX_REPLY_BYTES / 2**20:.0f} MiB"
    )


def test_the_rewriter_caches_no_reply_larger_than_the_cap(tmp_path):
    from moss_plugins.data.rewrite import RewriteConfig, rewrite_traces
    from moss_plugins.sample import Sample, TraceStep

    sample = Sample(
        id="s",
        video="s.mp4",
        question="?",
        options=("x", "y"),
        answer="A",
        task_type="next_state",
        observed_until=4.0,
        trace=(TraceStep((0.0, 4.0), "a red disc"), TraceStep((4.0, 4.0), "so x")),
        split="train",
        source="test",
    )
    reply = huge_reply(compressed=True)
    with FakeChatServer(lambda server, body, action: reply) as server:
        config = RewriteConfig(
            model="fake", base_url=server.url, max_retries=0, cache_path=tmp_path / "c.sqlite"
        )
        out, report = rewrite_traces([sample], config, progress=False)
    assert out == [sample] and report.failed == 1 and report.client[TOO_LARGE] == 1
    assert (tmp_path / "c.sqlite").stat().st_size < 2**20


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", None),
        ("-5", None),
        ("nan", None),
        ("NaN", None),
        ("inf", MAX_RETRY_AFTER),
        ("-inf", None),
        ("1e308", MAX_RETRY_AFTER),
        ("1e400", MAX_RETRY_AFTER),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("Fri, 01 Jan 9999 00:00:00 GMT", MAX_RETRY_AFTER),
    ],
)
def test_retry_after_is_a_wait_within_bounds_or_none(header, wait):
    assert retry_after({"retry-after": header}) == wait


def test_a_429_whose_retry_after_is_nan_waits_the_backoff():
    sleeps: list[float] = []

    async def sleep(seconds):
        sleeps.append(seconds)

    replies = iter([(429, {"Retry-After": "nan"}, b"{}"), (200, {}, completion("the reply"))])

    async def run(url):
        client = LLMClient(
            Endpoint.resolve("m", url, env={}), Policy(3, 1.0, 8.0, 5.0, 2), sleep=sleep, rng=random.Random(0)
        )
        try:
            return await client.complete([{"role": "user", "content": "hi"}])
        finally:
            await client.aclose()

    with FakeChatServer(lambda server, body, action: next(replies)) as server:
        assert asyncio.run(run(server.url)) == "the reply"
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0  # the first backoff, not no wait at all
