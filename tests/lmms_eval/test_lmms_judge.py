"""The LLM judge against a small OpenAI-compatible server on 127.0.0.1: retries, cache, resume, concurrency."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fake_chat import FakeChatServer, aim_the_judge, completion, error

from moss_plugins.evaluation import judge

REPLY = {"consistency": 4, "supports_answer": True, "explanation": "The steps follow the video."}


def respond(server, body, action):
    """``action``: a scripted HTTP status; otherwise ``server.reply`` as the judge's message."""
    status = action or 200
    if status != 200:
        return status, {}, error("scripted failure")
    return 200, {}, completion(server.reply, body["model"])


@pytest.fixture
def server(monkeypatch, tmp_path):
    s = FakeChatServer(respond)
    s.reply = json.dumps(REPLY)
    aim_the_judge(monkeypatch, s, tmp_path / "judge.sqlite")
    with s:
        yield s


def ask(
    output="<think>Step 1: The light turns yellow.</think><answer>B</answer>",
    reference=("The light is green.",),
):
    return judge.judge_trace("What comes next?", ["green", "yellow"], output, reference=list(reference))


def test_verdict_follows_lmms_eval_environment_conventions(server):
    verdict = ask()
    assert verdict.score == 0.75 and verdict.consistency == 4 and verdict.supports_answer is True
    assert verdict.model == "judge-model" and not verdict.cached
    request = server.requests[0]
    assert request["model"] == "judge-model" and request["temperature"] == 0.0
    prompt = request["messages"][-1]["content"]
    assert "The light is green." in prompt and "The light turns yellow." in prompt and "B. yellow" in prompt
    assert server.headers[0]["authorization"] == "Bearer test-key"


def test_the_full_chat_completions_url_form_works(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_URL", server.url + "/chat/completions")
    assert ask().score == 0.75


def test_transient_errors_are_retried_with_backoff(server):
    server.script = [500, 429]
    assert ask().score == 0.75
    assert len(server.requests) == 3


def test_cached_per_sample_and_resumable(server):
    outputs = [f"<think>Step 1: step {k}.</think><answer>A</answer>" for k in range(3)]
    server.script = [200, 500, 500, 500]  # the second sample fails all 3 attempts
    first = [ask(o) for o in outputs]
    assert [v.score is None for v in first] == [False, True, False]
    assert "HTTP 500" in first[1].error
    n = len(server.requests)
    judge._JUDGES.clear()  # as in a new process: only the SQLite cache survives
    again = [ask(o) for o in outputs]
    assert [v.cached for v in again] == [True, False, True]
    assert len(server.requests) == n + 1  # only the failed sample is asked again
    assert [ask(o).cached for o in outputs] == [True, True, True]


def test_concurrency_is_bounded(server, monkeypatch):
    monkeypatch.setenv("MOSS_JUDGE_CONCURRENCY", "2")
    server.delay = 0.1
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda k: ask(f"<think>Step 1: {k}.</think><answer>A</answer>"), range(8)))
    assert all(v.score == 0.75 for v in verdicts)
    assert len(server.requests) == 8
    assert server.max_in_flight == 2


def test_unreadable_replies_are_retried_then_given_up(server):
    server.reply = "I cannot rate this."
    verdict = ask()
    assert verdict.score is None and "no 1-5 consistency rating" in verdict.error
    assert len(server.requests) == 3


def test_a_rejected_configuration_fails_at_once(server):
    server.script = [401]
    with pytest.raises(judge.JudgeConfigError, match="OPENAI_API_KEY"):
        ask()
    assert len(server.requests) == 1


def test_parse_verdict_accepts_json_in_prose_and_bare_ratings():
    assert judge.parse_verdict('Sure: {"consistency": 5, "supports_answer": false}')[:2] == (5, False)
    assert judge.parse_verdict("Consistency: 2/5")[0] == 2
    with pytest.raises(ValueError):
        judge.parse_verdict('{"consistency": 9}')


def test_moss_video_judge_task_hook_adds_the_judge_metric(server):
    from lmms_eval.utils import load_yaml_config

    from moss_plugins.lmms_eval import TASKS_DIR

    config = load_yaml_config(f"{TASKS_DIR}/moss_video/moss_video_judge.yaml", mode="full")
    trace = json.dumps([{"t": [0, 1], "text": "The disc is red."}, {"t": [1, 2], "text": "Red comes next."}])
    doc = {
        "id": "d",
        "question": "Next colour?",
        "options": ["red", "blue"],
        "answer": "A",
        "task_type": "next_state",
        "observed_until": 1.0,
        "trace": trace,
        "split": "test",
    }
    out = config["process_results"](
        doc, ["<think>Step 1: The disc is red.\nStep 2: Red comes next.</think><answer>A</answer>"]
    )
    assert out["judge_consistency"] == out["judge_consistency/next_state"] == 0.75
    assert out["report"]["judge"]["consistency"] == 4
    assert "The disc is red." in server.requests[0]["messages"][-1]["content"]
