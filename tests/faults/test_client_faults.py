"""Bad servers: 200 replies that are not chat completions, and a body dripped past the deadline, against the chat
client's two users (the LLM judge and the trace rewriter). Every server is the scripted one of ``fake_chat`` on 127.0.0.1."""

from __future__ import annotations

import json
import random
import time

import pytest
from fake_chat import BAD_REPLIES, Drip, FakeChatServer, aim_the_judge, completion

from moss_plugins.data.rewrite import RewriteConfig, rewrite_traces
from moss_plugins.sample import Sample, TraceStep
from moss_plugins.evaluation import judge

VERDICT = json.dumps({"consistency": 4, "supports_answer": True, "explanation": "ok"})


def judge_respond(server, body, action):
    """``action``: a BAD_REPLIES name, ``"drip"`` (a good verdict, dripped), or None (a good verdict)."""
    if action == "drip":
        return 200, {}, Drip(completion(VERDICT), interval=0.05)
    if action is not None:
        return BAD_REPLIES[action]
    return 200, {}, completion(VERDICT)


@pytest.fixture
def judge_server(monkeypatch, tmp_path):
    with FakeChatServer(judge_respond) as server:
        aim_the_judge(monkeypatch, server, tmp_path / "judge.sqlite")
        yield server
        judge._JUDGES.clear()


def ask(output="<think>Step 1: it turns.</think><answer>A</answer>"):
    return judge.judge_trace("What next?", ["a", "b"], output, reference=["It turns."])


@pytest.mark.parametrize("bad", sorted(BAD_REPLIES))
def test_judge_retries_a_200_that_is_not_a_completion_then_gives_no_verdict(judge_server, bad):
    judge_server.script = [bad] * 3
    verdict = ask()
    assert verdict.score is None and verdict.error.startswith("malformed response")
    assert len(judge_server.requests) == 3


def test_judge_recovers_when_a_bad_reply_is_followed_by_a_good_one(judge_server):
    judge_server.script = ["text/plain", "null choices"]
    assert ask().score == 0.75
    assert len(judge_server.requests) == 3


def test_judge_request_has_a_total_deadline_against_a_dripping_server(judge_server, monkeypatch):
    monkeypatch.setenv(
        "MOSS_JUDGE_TIMEOUT", "0.5"
    )  # each byte comes in 0.05 s: only a total deadline stops it
    monkeypatch.setenv("MOSS_JUDGE_RETRIES", "2")
    judge_server.script = ["drip", "drip"]
    start = time.monotonic()
    verdict = ask()
    elapsed = time.monotonic() - start
    assert verdict.score is None and verdict.error == "timeout"
    assert elapsed < 4, f"two attempts of 0.5 s took {elapsed:.1f} s (the dripped body lasts ~12 s)"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOSS_JUDGE_BACKOFF", "x"),
        ("MOSS_JUDGE_BACKOFF", "-1"),
        ("MOSS_JUDGE_TIMEOUT", "nan"),
        ("MOSS_JUDGE_TIMEOUT", "0"),
        ("MOSS_JUDGE_RETRIES", "2.5"),
        ("MOSS_JUDGE_CONCURRENCY", "0"),
    ],
)
def test_judge_settings_from_the_environment_are_checked_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(judge.JudgeConfigError, match=f"^{name}="):
        judge.Settings.from_env()


# The rewriter: each prompt names its sample's video, so the server can answer per sample whatever the order.


def sample(video: str, cut: float = 4.0) -> Sample:
    observed = (
        TraceStep((0.0, cut / 2), f"{video} shows a red disc"),
        TraceStep((cut / 2, cut), f"{video} shows it turn"),
    )
    return Sample(
        id=video,
        video=f"{video}.mp4",
        question="What next?",
        options=("x", "y"),
        answer="A",
        task_type="next_state",
        observed_until=cut,
        trace=(*observed, TraceStep((cut, cut), "so x")),
        split="train",
        source="test",
    )


def rewrite_respond(server, body, action):
    """Videos named ``bad-<BAD_REPLIES name>`` always get that reply, ``drip-...`` a dripped one; others a trace."""
    prompt = body["messages"][-1]["content"]
    steps = json.dumps({"steps": [{"t": [0.0, 4.0], "text": "A red disc turns."}]})
    for name, reply in BAD_REPLIES.items():
        if f"bad-{name} shows" in prompt:
            return reply
    if "drip-" in prompt:
        return 200, {}, Drip(completion(steps), interval=0.05)
    return 200, {}, completion(steps)


async def no_sleep(seconds: float) -> None:
    pass


def rewrite(server, tmp_path, samples, **kw):
    cfg = RewriteConfig(
        model="fake",
        base_url=server.url,
        requests_per_minute=60000.0,
        max_retries=2,
        cache_path=tmp_path / "cache.sqlite",
        **kw,
    )
    return rewrite_traces(samples, cfg, cfg.client(sleep=no_sleep, rng=random.Random(0)), progress=False)


def test_rewriter_keeps_every_sample_it_could_rewrite_when_others_get_bad_replies(tmp_path):
    samples = [sample(f"good-{k}") for k in range(3)] + [sample(f"bad-{name}") for name in BAD_REPLIES]
    with FakeChatServer(rewrite_respond) as server:
        out, report = rewrite(server, tmp_path, samples)
    assert [s.id for s in out] == [s.id for s in samples]
    rewritten = {s.id for s in out if s.meta.get("trace_source") == "rewritten:fake"}
    assert rewritten == {"good-0", "good-1", "good-2"}
    assert (report.rewritten, report.failed) == (3, len(BAD_REPLIES))
    assert sum(
        n for reason, n in report.client.items() if reason.startswith("malformed response")
    ) == 3 * len(BAD_REPLIES)
    assert all(
        o.trace == s.trace for o, s in zip(out[3:], samples[3:])
    )  # the others keep their caption traces


def test_rewriter_request_has_a_total_deadline_against_a_dripping_server(tmp_path):
    with FakeChatServer(rewrite_respond) as server:
        start = time.monotonic()
        out, report = rewrite(server, tmp_path, [sample("drip-0"), sample("good-0")], timeout=0.5)
        elapsed = time.monotonic() - start
    assert report.rewritten == 1 and report.failed == 1 and report.client["timeout"] == 3
    assert [s.id for s in out] == ["drip-0", "good-0"]
    assert elapsed < 5, f"three attempts of 0.5 s took {elapsed:.1f} s (the dripped body lasts ~10 s)"


def test_judge_through_an_lmms_eval_provider_has_the_same_deadline_and_reply_check(monkeypatch, tmp_path):
    """``API_TYPE`` other than openai goes through lmms-eval's provider, whose call cannot be cancelled: the
    sample stops waiting for it at the deadline. A reply without text content is unreadable, not a TypeError."""
    import threading
    from types import SimpleNamespace

    llm_judge = pytest.importorskip("lmms_eval.llm_judge")
    import moss_plugins.lmms_eval.judge_provider  # noqa: F401  (what the judge tasks' hooks import)

    release, replies = (
        threading.Event(),
        iter([None, SimpleNamespace(content=None), SimpleNamespace(content=VERDICT)]),
    )

    class Provider:
        def evaluate(self, request):
            reply = next(replies)
            if reply is None:
                release.wait(30)  # a provider that hangs
            return reply

    monkeypatch.setattr(llm_judge, "get_server", lambda name, config: Provider())
    for name, value in {
        "API_TYPE": "azure",
        "MODEL_VERSION": "m",
        "MOSS_JUDGE_CACHE": str(tmp_path / "j.sqlite"),
        "MOSS_JUDGE_BACKOFF": "0.01",
        "MOSS_JUDGE_RETRIES": "3",
        "MOSS_JUDGE_TIMEOUT": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        start = time.monotonic()
        assert ask().score == 0.75  # a timeout, an unreadable reply, then a verdict
        assert time.monotonic() - start < 5
    finally:
        release.set()
        judge._JUDGES.clear()
