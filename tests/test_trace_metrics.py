"""The trace metrics: definitions on hand-made traces and the bootstrap interval."""

import numpy as np
import pytest

from moss_plugins.output_format import format_response
from moss_plugins.reward import segment_steps
from moss_plugins.testing.examples import load_examples
from moss_plugins.evaluation.trace_metrics import (
    REFERENCE_FREE_METRICS,
    REFERENCE_METRICS,
    answer_consistency,
    bootstrap_ci,
    coverage_and_order,
    option_mentions,
    reference_free_metrics,
    reference_metrics,
)

EXAMPLE = next(e for e in load_examples() if e["id"] == "traffic-light")  # the bundled example of `moss demo`
OPTIONS = EXAMPLE["options"]
REF = [step["text"] for step in EXAMPLE["ground_truth"]["trace"]]
TRUTH = {
    "answer": "B",
    "options": OPTIONS,
    "trace": [{"t": [k, k + 1], "text": s} for k, s in enumerate(REF)],
}


def test_the_reference_itself_scores_one_on_every_metric():
    m = reference_metrics(format_response(REF, "B"), TRUTH)["metrics"]
    assert set(m) == set(REFERENCE_METRICS)
    assert m == pytest.approx(dict.fromkeys(REFERENCE_METRICS, 1.0))


def test_shuffled_steps_keep_coverage_but_lose_order_and_dtw():
    shuffled = reference_metrics(format_response(REF[::-1], "B"), TRUTH)["metrics"]
    assert shuffled["step_coverage"] == 1.0
    assert shuffled["temporal_order"] == 0.0  # every pair reversed
    assert shuffled["trace_dtw"] < 0.5


def test_right_steps_with_the_wrong_answer_are_inconsistent():
    m = reference_metrics(format_response(REF, "C"), TRUTH)["metrics"]
    assert m["accuracy"] == 0.0 and m["answer_consistency"] == 0.0 and m["step_coverage"] == 1.0


def test_temporal_order_is_left_out_when_fewer_than_two_steps_are_covered():
    m = reference_metrics(format_response(["Something unrelated happens in a kitchen.", REF[2]], "B"), TRUTH)[
        "metrics"
    ]
    assert m["step_coverage"] == pytest.approx(1 / 5)
    assert "temporal_order" not in m


def test_coverage_threshold_and_ties():
    sim = np.array([[0.9, 0.1], [0.2, 0.6], [0.4, 0.3]])
    assert coverage_and_order(sim, 0.5) == (pytest.approx(2 / 3), 1.0)
    # best matches P1, P2, P1: (R1, R2) in order, (R1, R3) a tie, (R2, R3) reversed
    assert coverage_and_order(sim, 0.35) == (1.0, pytest.approx((1 + 0.5 + 0) / 3))
    tie = np.array([[0.9, 0.0], [0.8, 0.0]])
    assert coverage_and_order(tie, 0.5) == (1.0, 0.5)
    assert coverage_and_order(np.zeros((3, 0)), 0.5) == (0.0, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so it will turn yellow next", [(16, "B")]),
        ("The answer is (C), not option A.", [(4, "C"), (23, "A")]),
        ("the light is green now, so yellow", [(13, "A"), (27, "B")]),
        ("nothing about any option", []),
    ],
)
def test_option_mentions_by_letter_text_or_own_keyword(text, expected):
    assert option_mentions(text, OPTIONS) == expected


def test_a_mention_inside_a_longer_option_is_not_counted():
    assert [m[1] for m in option_mentions("it turns dark red", ["red", "dark red", "blue"])] == ["B"]
    assert option_mentions("12 now, 2 more", ["2", "12"]) == [(0, "B"), (8, "A")]


def test_chinese_options_are_found_by_character_pairs():
    options = ["杯子变空", "水溢出来", "水位不变", "杯子倒下"]
    text = "<think>Step 1: 水位慢慢上升。\nStep 2: 所以接下来水会溢出。</think><answer>B</answer>"
    assert answer_consistency(segment_steps(text), "B", options) == 1.0
    assert answer_consistency(segment_steps(text), "C", options) == 0.0


def test_answer_consistency_reads_the_last_step_that_names_an_option():
    text = format_response(["The light was red.", "Then it turned yellow.", "Nothing else happens."], "B")
    assert answer_consistency(segment_steps(text), "B", OPTIONS) == 1.0
    assert answer_consistency(segment_steps(text), "C", OPTIONS) == 0.0
    assert answer_consistency(segment_steps(text), None, OPTIONS) == 0.0
    assert (
        answer_consistency(segment_steps(format_response(["No colours at all."], "B")), "B", OPTIONS) == 0.0
    )


def test_free_form_answer_consistency():
    text = format_response(["Two balls roll in.", "So there are 3 balls in the end."], "3")
    assert answer_consistency(segment_steps(text), "3", None) == 1.0
    assert answer_consistency(segment_steps(text), "4", None) == 0.0


def test_reference_free_metrics():
    m = reference_free_metrics(
        format_response(["The cup is moved.", "So the answer is the blue cup."], "B"),
        "B",
        ["red cup", "blue cup"],
    )
    assert m["metrics"] == {
        "accuracy": 1.0,
        "format_rate": 1.0,
        "answer_consistency": 1.0,
        "trace_length": 2.0,
    }
    assert set(m["metrics"]) == set(REFERENCE_FREE_METRICS)
    bad = reference_free_metrics("B", "B", ["red cup", "blue cup"])["metrics"]
    assert bad["format_rate"] == 0.0 and bad["accuracy"] == 0.0


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(1)
    values = rng.random(200)
    low, high = bootstrap_ci(values)
    assert bootstrap_ci(values) == [low, high]
    assert low < values.mean() < high
    # The percentile interval of the mean is about +-1.96 standard errors wide.
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci([0.25]) == [0.25, 0.25]
    assert bootstrap_ci(values, seed=1) != bootstrap_ci(values, seed=2)


def test_the_preset_is_chosen_per_call_or_by_the_environment(monkeypatch):
    """The learning benchmark scores trace_dtw under both presets in one process."""
    text = format_response(REF[::-1], "B")
    default = reference_metrics(text, TRUTH)["metrics"]["trace_dtw"]
    paper = reference_metrics(text, TRUTH, preset="paper")["metrics"]["trace_dtw"]
    assert paper != pytest.approx(default)
    monkeypatch.setenv("MOSS_REWARD_PRESET", "paper")
    assert reference_metrics(text, TRUTH)["metrics"]["trace_dtw"] == pytest.approx(paper)
    assert reference_metrics(text, TRUTH, preset="default")["metrics"]["trace_dtw"] == pytest.approx(default)
