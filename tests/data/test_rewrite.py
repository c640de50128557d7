"""Trace rewriting through an OpenAI-compatible endpoint: a local server on 127.0.0.1 that fails on purpose.

Waits are checked with a fake clock (no timed assertions); the server counts every request it answers.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter

import pytest
from fake_chat import FakeChatServer, completion, error

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.rewrite import (
    RejectedReply,
    RewriteConfig,
    RewriteConfigError,
    parse_reply,
    rewrite_traces,
)
from moss_plugins.llm_client import LLMClient, ReplyCache
from moss_plugins.sample import Sample, TraceStep

_TIMELINE_RE = re.compile(r"^\[([\d.]+)-([\d.]+) s\] (.*)$", re.MULTILINE)


def respond(server, body, action):
    """A model that follows the prompt, after the scripted failures ("500", "429:<retry-after>", "badjson",
    "empty", "401", "outside")."""
    action = action or "ok"
    if action == "500":
        return 500, {}, error("overloaded")
    if action.startswith("429"):
        return 429, {"Retry-After": action.split(":")[1]}, error("slow down")
    if action == "401":
        return 401, {}, error("bad key")
    if action == "badjson":
        return 200, {}, b'{"choices": [{"message": {"content": "trunc'
    steps = [
        {"t": [float(a), float(b)], "text": f"Seen: {text}", "state": {"scene": "observed"}}
        for a, b, text in _TIMELINE_RE.findall(body["messages"][-1]["content"])
    ]
    if action == "outside":
        steps[-1]["t"] = [steps[-1]["t"][0], 999.0]
    return (
        200,
        {},
        completion("" if action == "empty" else "```json\n" + json.dumps({"steps": steps}) + "\n```"),
    )


@pytest.fixture
def llm():
    with FakeChatServer(respond) as server:
        yield server


class FakeTime:
    """A clock that moves only when someone sleeps (or never: ``advance=False``); every sleep is recorded."""

    def __init__(self, advance: bool = True):
        self.now, self.sleeps, self.advance = 0.0, [], advance

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds if self.advance else 0.0
        await asyncio.sleep(0)


def sample(cut: float, n: int = 2, video: str = "v") -> Sample:
    observed = [
        TraceStep((k * cut / n, (k + 1) * cut / n), f"{video} observation {k} before {cut}") for k in range(n)
    ]
    return Sample(
        id=f"{video}-{cut}",
        video=f"{video}.mp4",
        question="What happens next?",
        options=("x", "y"),
        answer="A",
        task_type="next_state",
        observed_until=cut,
        trace=(*observed, TraceStep((cut, cut), "so y comes next")),
        split="train",
        source="test",
    )


def config(llm, tmp_path, **kw) -> RewriteConfig:
    kw = {"requests_per_minute": 6000.0, "max_retries": 3, "cache_path": tmp_path / "cache.sqlite", **kw}
    return RewriteConfig(model="fake", base_url=llm.url, **kw)


def client(cfg, fake_time: FakeTime | None = None) -> LLMClient:
    fake_time = fake_time or FakeTime()
    return cfg.client(clock=fake_time.clock, sleep=fake_time.sleep, rng=random.Random(0))


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_rewritten_trace_keeps_the_inference_step(llm, tmp_path):
    s = sample(4.0)
    (out,), report = rewrite_traces([s], config(llm, tmp_path), client(config(llm, tmp_path)), progress=False)
    assert [step.text for step in out.trace] == [f"Seen: {t.text}" for t in s.trace[:-1]] + [s.trace[-1].text]
    assert out.trace[0].state == {"scene": "observed"}
    assert out.meta["trace_source"] == "rewritten:fake"
    assert (report.rewritten, report.prompts, report.client["requests"]) == (1, 1, 1)
    assert Sample.from_json(out.to_json()) == out


def test_server_errors_are_retried_with_exponential_backoff(llm, tmp_path):
    llm.script.extend(["500", "500", "500"])
    cfg, fake_time = config(llm, tmp_path, backoff_base=1.0), FakeTime()
    _, report = rewrite_traces([sample(4.0)], cfg, client(cfg, fake_time), progress=False)
    assert len(llm.prompts) == 4 and report.rewritten == 1
    assert report.client["retries"] == 3 and report.client["server error (500)"] == 3
    assert len(fake_time.sleeps) == 3
    for attempt, slept in enumerate(fake_time.sleeps):  # equal jitter: in [b/2, b], b = base * 2**attempt
        assert 2**attempt / 2 <= slept <= 2**attempt


def test_429_pauses_for_retry_after(llm, tmp_path):
    llm.script.append("429:7")
    cfg, fake_time = config(llm, tmp_path), FakeTime()
    _, report = rewrite_traces([sample(4.0)], cfg, client(cfg, fake_time), progress=False)
    assert len(llm.prompts) == 2 and report.rewritten == 1
    assert fake_time.sleeps == [7.0]
    assert report.client["rate limited (429)"] == 1


def test_malformed_responses_are_retried(llm, tmp_path):
    llm.script.extend(["badjson", "empty"])
    cfg = config(llm, tmp_path)
    _, report = rewrite_traces([sample(4.0)], cfg, client(cfg), progress=False)
    assert len(llm.prompts) == 3 and report.rewritten == 1
    assert report.client["malformed response (not JSON)"] == 1
    assert report.client["malformed response (no message content)"] == 1


def test_giving_up_keeps_the_caption_trace_and_a_rerun_retries(llm, tmp_path):
    llm.script.extend(["500"] * 3)
    cfg = config(llm, tmp_path, max_retries=2)
    s = sample(4.0)
    (out,), report = rewrite_traces([s], cfg, client(cfg), progress=False)
    assert len(llm.prompts) == 3 and report.failed == 1 and out == s
    (out,), report = rewrite_traces([s], cfg, client(cfg), progress=False)
    assert len(llm.prompts) == 4 and report.failed == 0 and report.rewritten == 1


def test_bad_credentials_stop_the_run_at_once(llm, tmp_path):
    llm.script.append("401")
    cfg = config(llm, tmp_path)
    with pytest.raises(RewriteConfigError, match="HTTP 401 for model 'fake'"):
        rewrite_traces([sample(4.0), sample(5.0)], cfg, client(cfg), progress=False)
    assert len(llm.prompts) <= 2  # the other request may already have been in flight; none is retried


def test_rate_limit_spaces_requests(llm, tmp_path):
    cfg, frozen = config(llm, tmp_path, requests_per_minute=30, max_concurrency=5), FakeTime(advance=False)
    _, report = rewrite_traces(
        [sample(float(c)) for c in range(2, 7)], cfg, client(cfg, frozen), progress=False
    )
    assert report.rewritten == 5 and len(llm.prompts) == 5
    assert sorted(frozen.sleeps) == [2.0, 4.0, 6.0, 8.0]  # all ready at t=0; 30 a minute: one every 2 s


def test_concurrency_is_bounded(llm, tmp_path):
    llm.delay = 0.05
    cfg = config(llm, tmp_path, max_concurrency=2)
    _, report = rewrite_traces([sample(float(c)) for c in range(2, 8)], cfg, cfg.client(), progress=False)
    assert report.rewritten == 6
    assert 1 <= llm.max_in_flight <= 2


def test_crash_then_rerun_repeats_no_finished_request(llm, tmp_path, monkeypatch):
    samples = [sample(float(c)) for c in range(2, 8)]
    cfg = config(llm, tmp_path, max_concurrency=1)
    put, stored = ReplyCache.put, []

    def crashing_put(self, key, reply):
        put(self, key, reply)
        stored.append(key)
        if len(stored) == 3:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(ReplyCache, "put", crashing_put)
    with pytest.raises(KeyboardInterrupt):
        rewrite_traces(samples, cfg, client(cfg), progress=False)
    monkeypatch.setattr(ReplyCache, "put", put)
    finished = set(llm.prompts)
    assert len(finished) == 3
    _, report = rewrite_traces(samples, cfg, client(cfg), progress=False)
    assert report.cached == 3 and report.rewritten == 6
    assert Counter(llm.prompts) == Counter({p: 1 for p in llm.prompts})  # nothing was asked twice
    assert len(llm.prompts) == 6
    _, report = rewrite_traces(samples, cfg, client(cfg), progress=False)
    assert report.cached == 6 and len(llm.prompts) == 6 and report.client == Counter()


def test_identical_prompts_are_sent_once(llm, tmp_path):
    a, b = sample(4.0), sample(4.0)
    b = Sample(**{**b.__dict__, "id": "other", "task_type": "final_state"})
    cfg = config(llm, tmp_path)
    _, report = rewrite_traces([a, b], cfg, client(cfg), progress=False)
    assert report.prompts == 1 and len(llm.prompts) == 1 and report.rewritten == 2


def test_reply_outside_the_observed_window_keeps_the_caption_trace(llm, tmp_path):
    llm.script.append("outside")
    cfg = config(llm, tmp_path)
    s = sample(4.0)
    (out,), report = rewrite_traces([s], cfg, client(cfg), progress=False)
    assert out.trace == s.trace and out.meta["rewrite_rejected"] == "a time span outside the observed window"
    assert (
        report.rejected == Counter({"a time span outside the observed window": 1}) and report.rewritten == 0
    )


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("I think the cat moves.", "not a JSON object"),
        ('{"steps": []}', "no steps"),
        (
            '{"steps": [{"t": [0, 1], "text": "a"}, {"t": [0.5], "text": "b"}]}',
            "a step has no [start, end] time span",
        ),
        ('{"steps": [{"t": [2, 3], "text": "a"}, {"t": [1, 2], "text": "b"}]}', "steps out of time order"),
        ('{"steps": [{"t": [0, 1], "text": " "}]}', "a step without usable text"),
        ('{"steps": [{"t": [0, 1], "text": "a", "state": ["x"]}]}', "a state that is not an object"),
        ('{"steps": [{"t": [0, 5], "text": "a"}]}', "a time span outside the observed window"),
    ],
)
def test_parse_reply_rejects_unusable_replies(reply, reason):
    with pytest.raises(RejectedReply, match=re.escape(reason)):
        parse_reply(reply, observed_until=4.0, n_observed=2)


def test_parse_reply_accepts_fenced_json_with_prose_around():
    reply = 'Sure:\n```json\n{"steps": [{"t": [0, 4], "text": "A  cup\\nfalls", "state": {"cup": {"up": false}}}]}\n```'
    (step,) = parse_reply(reply, observed_until=4.0, n_observed=1)
    assert step == TraceStep((0.0, 4.0), "A cup falls", {"cup": '{"up": false}'})


def test_missing_key_for_openai_is_a_configuration_error(tmp_path):
    with pytest.raises(RewriteConfigError, match=r"set \$OPENAI_API_KEY"):
        RewriteConfig(model="gpt-4o", cache_path=tmp_path / "c").endpoint()


def test_cli_build_with_rewrite_never_sends_the_future(llm, tmp_path):
    """End to end: the prompts hold the observed captions and never a caption from after the cut."""
    from test_build import caption, write_annotated

    src = write_annotated(tmp_path / "src", 3, n_segments=5)
    args = [
        "data",
        "build",
        str(src),
        "--out",
        str(tmp_path / "out"),
        "--rewrite",
        "--model",
        "fake",
        "--base-url",
        llm.url,
        "--rpm",
        "100000",
    ]
    assert main(args) == 0
    samples = load_samples(tmp_path / "out").samples
    assert samples and all(s.meta["trace_source"] == "rewritten:fake" for s in samples)
    assert len(llm.prompts) == len({(s.meta["video_id"], s.observed_until) for s in samples})
    for s in samples:
        v, k = int(s.meta["video_id"][1:]), s.meta["cut_segment"]
        prompt = next(
            p for p in llm.prompts if f"watched from 0 to {s.observed_until:g} s" in p and f"v{v}s0" in p
        )
        assert all(caption(v, j) in prompt for j in range(k))
        assert not any(f"v{v}s{j}" in prompt for j in range(k, s.meta["n_segments"]))
        assert all(o not in prompt for o in s.options if o not in {caption(v, j) for j in range(k)})
    assert (tmp_path / "out" / "rewrite_cache.sqlite").is_file()
    assert main(args) == 0 and len(llm.prompts) == len(set(llm.prompts))  # a rerun asks nothing again
