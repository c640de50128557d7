"""compute_score: verl's contract, components, configuration, and robustness to any model output."""

import json
import math
import random

import numpy as np
import pytest
from reward_cases import OPTIONS, render

from moss_plugins.reward import (
    RESULT_KEYS,
    ConfigError,
    GroundTruthError,
    RewardConfig,
    compute_score,
    process_reward,
)


def test_faithful_correct_answer_scores_every_component(truth, faithful):
    r = compute_score("moss_video", faithful, truth)
    assert tuple(r) == RESULT_KEYS
    assert (r["acc"], r["format"], r["process"], r["padding"]) == (1.0, 1.0, 1.0, 0.0)
    assert r["dtw_distance"] == pytest.approx(0.0, abs=1e-12) and r["n_pred_steps"] == r["n_ref_steps"] == 5
    c = RewardConfig()
    assert r["score"] == pytest.approx(c.acc_weight + c.format_weight + c.process_weight)
    assert r["pred_answer"] == "B" and r["reason"] == "ok"


def test_weights_and_alpha_come_from_kwargs(truth, ref_steps):
    out = render(ref_steps[:3] + ["an unrelated remark about the weather"], "B")
    r = compute_score(
        None, out, truth, acc_weight=2.0, format_weight=0.0, process_weight=1.0, padding_weight=0.0
    )
    assert r["score"] == pytest.approx(2.0 + r["process"])
    sharp = compute_score(None, out, truth, alpha=8.0)["process"]
    lenient = compute_score(None, out, truth, alpha=0.0)["process"]
    assert 0 < sharp < lenient < 1
    assert (
        compute_score(None, out, truth, max_jump=1)["dtw_distance"]
        >= compute_score(None, out, truth, max_jump=3)["dtw_distance"]
    )


def test_process_transform():
    for alpha in (-2.0, 0.0, 0.5, 2.0, 8.0):
        assert process_reward(0.0, alpha) == pytest.approx(1.0) and process_reward(
            1.0, alpha
        ) == pytest.approx(0.0)
        values = [process_reward(d, alpha) for d in np.linspace(0, 1, 21)]
        assert all(a > b for a, b in zip(values, values[1:]))  # strictly decreasing
    assert process_reward(0.3, 0.0) == pytest.approx(0.7)
    assert (
        process_reward(0.3, 4.0)
        < process_reward(0.3, 1.0)
        < process_reward(0.3, 0.0)
        < process_reward(0.3, -2.0)
    )
    assert process_reward(1.7, 2.0) == 0.0 and process_reward(-0.1, 2.0) == 1.0


def test_gate_pays_process_only_for_correct_answers(truth, ref_steps):
    wrong = render(ref_steps, "C")
    open_gate = compute_score(None, wrong, truth)
    gated = compute_score(None, wrong, truth, gate_process=True)
    assert open_gate["process"] == gated["process"] == 1.0  # reported either way
    assert open_gate["score"] - gated["score"] == pytest.approx(RewardConfig().process_weight)
    assert (
        compute_score(None, render(ref_steps), truth, gate_process=True)["score"]
        == compute_score(None, render(ref_steps), truth)["score"]
    )


def test_ground_truth_forms(truth, faithful):
    expected = compute_score(None, faithful, truth)["score"]
    assert compute_score(None, faithful, json.dumps(truth))["score"] == expected
    parquet_like = {
        "answer": "B",
        "options": np.array(OPTIONS, dtype=object),
        "trace": np.array([{"t": np.array(s["t"]), "text": s["text"]} for s in truth["trace"]], dtype=object),
    }
    assert compute_score(None, faithful, parquet_like)["score"] == expected
    texts_only = {
        "answer": "The light turns yellow",
        "options": OPTIONS,
        "trace": [s["text"] for s in truth["trace"]],
    }
    assert compute_score(None, faithful, texts_only)["score"] == expected
    free_form = {"answer": "yellow", "trace": ["the light is green", "it turns yellow next"]}
    assert (
        compute_score(
            None, "<think>the light is green\nit turns yellow next</think><answer>Yellow</answer>", free_form
        )["acc"]
        == 1.0
    )


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"trace": ["x"]}, "ground_truth.answer"),
        ({"answer": "B"}, "ground_truth.trace"),
        ({"answer": "B", "trace": []}, "ground_truth.trace"),
        ({"answer": "B", "trace": [{"t": [0, 1]}]}, r"ground_truth.trace\[0\].text"),
        ({"answer": "B", "trace": ["ok", {"text": "x", "t": [3, 1]}]}, r"ground_truth.trace\[1\].t"),
        ({"answer": "B", "trace": ["ok", 7]}, r"ground_truth.trace\[1\]"),
        ({"answer": "B", "trace": ["Step 1:"]}, r"ground_truth.trace\[0\]"),
        ({"answer": "E", "options": OPTIONS, "trace": ["x"]}, "ground_truth.answer"),
        ({"answer": "purple", "options": OPTIONS, "trace": ["x"]}, "ground_truth.answer"),
        ({"answer": "B", "options": ["only one"], "trace": ["x"]}, "ground_truth.options"),
        ("{not json", "ground_truth"),
        (["answer", "trace"], "ground_truth"),
    ],
)
def test_malformed_ground_truth_names_the_field(bad, field):
    with pytest.raises(GroundTruthError, match=field):
        compute_score(None, "<think>x</think><answer>B</answer>", bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpah": 2.0}, "unknown reward option"),
        ({"alpha": float("nan")}, "alpha"),
        ({"max_jump": 0}, "max_jump"),
        ({"padding_tolerance": 1.0}, "padding_tolerance"),
        ({"similarity": "nope"}, "unknown similarity 'nope'"),
        ({"segmenter": "nope"}, "unknown segmenter"),
        ({"extra_terms": {"nope": 1.0}}, "unknown reward term"),
        ({"rouge_weights": [1, 2]}, "rouge_weights"),
        ({"gate_process": "yes"}, "gate_process"),
    ],
)
def test_bad_configuration_raises_early(truth, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        compute_score(None, "<think>x</think><answer>B</answer>", truth, **kwargs)


def _adversarial_outputs():
    rng = random.Random(7)
    alphabet = "abc <>/thinkanswer\n\t.:-*()[]1234567890ABCD\u200b\u202e\ufeff\U0001f600杯子水é\x00\udcff"
    yield from [
        None,
        "",
        " ",
        b"\xff\xfe<think>bytes</think>",
        12345,
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "<think></think><answer></answer>",
        "<answer>" * 100_000,
        "<answer>B</answer>" * 50_000,
        "<think>" + "Step 1: x\n" * 200_000 + "</think><answer>B</answer>",
        "<think>a</think><answer>" + "B " * 500_000 + "</answer>",
        "x" * 1_000_000,
        "\n" * 1_000_000,
        "Step 1:" * 100_000,
        "<think>" + "杯" * 300_000 + "</think>",
    ]
    for _ in range(300):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))


@pytest.mark.timeout(120)
def test_model_output_never_raises_and_keys_are_stable(truth):
    for out in _adversarial_outputs():
        r = compute_score("moss_video", out, truth)
        assert tuple(r) == RESULT_KEYS, repr(out)[:80]
        assert not r["reason"].startswith("error"), (r["reason"], repr(out)[:80])
        assert all(math.isfinite(r[k]) for k in RESULT_KEYS if k not in ("pred_answer", "reason"))
        assert (
            0 <= r["process"] <= 1
            and 0 <= r["padding"] <= 1
            and r["n_pred_steps"] <= RewardConfig().max_steps
        )


def test_reasons(truth, ref_steps):
    def reason(out):
        return compute_score(None, out, truth)["reason"]

    assert reason("") == "empty_output"
    assert reason("<think>x</think>") == "no_answer,bad_format"
    assert reason(render(ref_steps)[:-9]) == "truncated_answer,bad_format"  # "...<answer>B"
    assert reason(render(ref_steps, "A, B")) == "unreadable_answer"
    assert reason(render(ref_steps) + "<answer>C</answer>") == "multiple_answers,bad_format"
    assert reason("<think></think><answer>B</answer>") == "no_steps,bad_format"


def test_a_failing_component_is_contained_and_logged(truth, faithful, monkeypatch, caplog):
    from moss_plugins.reward import score as score_module

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(score_module, "format_ok", boom)
    r = compute_score(None, faithful, truth)
    assert tuple(r) == RESULT_KEYS and r["score"] == 0.0 and r["reason"] == "error:RuntimeError"
    assert "scoring a model output failed" in caplog.text


def test_deterministic(truth, ref_steps):
    out = render(ref_steps[::-1] + ["noise noise"], "B")
    assert [compute_score(None, out, truth) for _ in range(3)] == [compute_score(None, out, truth)] * 3
