"""JSON nested deeper than anything here needs, wherever JSON is read: a ground truth is a data error naming its
field (never a RecursionError), a sample or annotation row is a located ValidationError, and a chat reply nested
too deep is a malformed reply (the judge retries, then gives no verdict; the rewriter keeps the caption trace).
Also the verl manager's other model-made input: token ids no tokenizer can decode."""

from __future__ import annotations

import json

import pytest
from fake_chat import FakeChatServer, aim_the_judge, completion

from moss_plugins.cli import main
from moss_plugins.evaluation import judge
from moss_plugins.reward import GroundTruthError, compute_score
from moss_plugins.reward.batch import score_batch
from moss_plugins.sample import Sample, TraceStep

DEEP = 100_000
SOLUTION = "<think>Step 1: it turns.</think><answer>A</answer>"


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def deep_object(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "truth",
    [
        nested(DEEP),
        json.dumps({"answer": "A", "trace": ["x"]})[:-1] + ', "extra": ' + nested(DEEP) + "}",
        {"answer": "A", "trace": ["it turns"], "extra": deep_object(DEEP)},
    ],
    ids=["json-array", "json-field", "python-object"],
)
def test_a_ground_truth_nested_too_deep_is_a_ground_truth_error(truth):
    with pytest.raises(GroundTruthError, match="ground_truth.*nested"):
        compute_score("moss", SOLUTION, truth)
    with pytest.raises(GroundTruthError, match="ground_truth.*nested"):
        score_batch([SOLUTION], [truth])


def test_moss_score_gives_one_line_for_a_ground_truth_nested_too_deep(tmp_path, capsys):
    rows = tmp_path / "rollouts.jsonl"
    rows.write_text(json.dumps({"solution": SOLUTION, "ground_truth": nested(DEEP)}) + "\n")
    assert main(["score", str(rows)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ground_truth" in err and len(err.strip().splitlines()) == 1


def test_a_sample_row_nested_too_deep_is_a_located_validation_error(tmp_path, capsys):
    rows = tmp_path / "test.jsonl"
    rows.write_text('{"id": "x", "meta": ' + nested(DEEP) + "}\n")
    assert main(["data", "validate", str(rows)]) != 0
    out = capsys.readouterr().out
    assert "test.jsonl:1" in out and "nested" in out


# --- chat replies -----------------------------------------------------------------------------------------------


@pytest.fixture
def judge_server(monkeypatch, tmp_path):
    deep_verdict = '{"consistency": 4, "x": ' + nested(200_000) + "}"
    with FakeChatServer(lambda server, body, action: (200, {}, completion(deep_verdict))) as server:
        aim_the_judge(monkeypatch, server, tmp_path / "judge.sqlite")
        yield server
        judge._JUDGES.clear()


def test_a_judge_reply_nested_too_deep_is_retried_then_no_verdict(judge_server):
    verdict = judge.judge_trace("What next?", ["a", "b"], SOLUTION, reference=["It turns."])
    assert verdict.score is None and "nested" in verdict.error
    assert len(judge_server.requests) == 3


def test_a_rewriter_reply_nested_too_deep_keeps_the_caption_trace(tmp_path):
    from moss_plugins.data.rewrite import RewriteConfig, rewrite_traces

    deep = '{"steps": [{"t": [0, 1], "text": "x", "state": {"a": ' + nested(200_000) + "}}]}"
    observed = (TraceStep((0.0, 2.0), "a red disc"), TraceStep((2.0, 4.0), "it turns"))
    sample = Sample(
        id="s",
        video="s.mp4",
        question="What next?",
        options=("x", "y"),
        answer="A",
        task_type="next_state",
        observed_until=4.0,
        trace=(*observed, TraceStep((4.0, 4.0), "so x")),
        split="train",
        source="test",
    )
    with FakeChatServer(lambda server, body, action: (200, {}, completion(deep))) as server:
        config = RewriteConfig(
            model="fake",
            base_url=server.url,
            requests_per_minute=60000.0,
            max_retries=0,
            cache_path=tmp_path / "cache.sqlite",
        )
        out, report = rewrite_traces([sample], config, progress=False)
    assert out[0].trace == sample.trace
    assert sum(report.rejected.values()) == 1 and "nested" in next(iter(report.rejected))


# --- token ids no tokenizer can decode ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verl_manager(tmp_path_factory):
    pytest.importorskip("verl")
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.utils import hf_tokenizer

    from moss_plugins.testing import tiny_models
    from moss_plugins.verl.compose import compose_job

    tokenizer = hf_tokenizer(str(tiny_models.build("qwen2_5_vl", tmp_path_factory.mktemp("qwen"))))
    return load_reward_manager(compose_job(["reward=moss_dtw", "data=moss_video"]), tokenizer)


@pytest.mark.parametrize("ids", [[-1, 5], [2**40], [5, -(2**70)]], ids=["negative", "huge", "beyond-int64"])
def test_the_verl_manager_scores_undecodable_token_ids_as_such(verl_manager, ids):
    result = verl_manager.score(ids, {"answer": "A", "options": ["x", "y"], "trace": ["it turns"]})
    assert result["score"] == 0.0 and result["reason"] == "undecodable_tokens"
    assert result["response_tokens"] == len(ids)


def test_the_verl_manager_names_a_ground_truth_nested_too_deep(verl_manager):
    with pytest.raises(GroundTruthError, match="ground_truth.*nested"):
        verl_manager.score([5, 6], nested(DEEP))
