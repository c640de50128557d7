"""Bad reward options: each is refused at once, with one line naming it, whatever was called before; no valid
option makes scoring overflow or run away."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from moss_plugins.reward import compute_score
from moss_plugins.reward.config import ConfigError, RewardConfig

MAX_ALPHA, MAX_JUMP, MAX_STEPS, MAX_TRACE_CHARS = 100.0, 64, 128, 50_000  # the documented bounds

TRUTH = {
    "answer": "B",
    "options": ["green", "yellow"],
    "trace": [{"t": [0, 2], "text": "The light is green."}, {"t": [2, 4], "text": "It turns yellow."}],
}
GOOD = "<think>Step 1: The light is green.\nStep 2: It turns yellow.</think><answer>B</answer>"
PARTLY = (
    "<think>Step 1: The light is green.\nStep 2: Then a car stops.\nStep 3: Rain.</think><answer>B</answer>"
)

BAD = [
    ("alpha", -710.0),
    ("alpha", -1e6),
    ("alpha", 1e6),
    ("alpha", "1"),
    ("alpha", True),
    ("alpha", None),
    ("acc_weight", 1e308),
    ("process_weight", float("inf")),
    ("padding_weight", "x"),
    ("padding_tolerance", "x"),
    ("padding_tolerance", -0.1),
    ("padding_tolerance", 1.0),
    ("padding_tolerance", [0.2]),
    ("max_jump", 10**7),
    ("max_jump", 2.0),
    ("max_jump", True),
    ("max_jump", 0),
    ("max_jump", "2"),
    ("max_steps", 10**9),
    ("max_steps", 64.0),
    ("max_step_chars", -1),
    ("max_trace_chars", 10**12),
    ("gate_process", 1),
    ("gate_process", 0),
    ("gate_process", "true"),
    ("rouge_weights", 5),
    ("rouge_weights", "abc"),
    ("rouge_weights", [1, True, 1]),
    ("rouge_weights", [0, 0, 0]),
    ("rouge_weights", [1, 2]),
    ("rouge_weights", [1, float("nan"), 1]),
    ("similarity", 5),
    ("similarity", ["rouge"]),
    ("similarity", "nope"),
    ("segmenter", None),
    ("extra_terms", 5),
    ("extra_terms", ["x"]),
    ("extra_terms", {"nope": 1.0}),
]


def test_every_option_has_a_check_and_the_bounds_are_the_documented_ones():
    from moss_plugins.reward import config

    assert (config.MAX_ALPHA, config.MAX_JUMP, config.MAX_STEPS, config.MAX_TRACE_CHARS) == (
        MAX_ALPHA,
        MAX_JUMP,
        MAX_STEPS,
        MAX_TRACE_CHARS,
    )
    CHECKS = config.CHECKS
    assert set(CHECKS) == {f.name for f in fields(RewardConfig)}


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_option_is_refused_in_one_line_naming_it(name, value):
    with pytest.raises(ConfigError) as raised:
        compute_score(None, GOOD, TRUTH, **{name: value})
    message = str(raised.value)
    assert message.startswith(f"reward option {name}=") and "\n" not in message
    assert "must be" in message or "unknown" in message


@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("gate_process", 1, True),
        ("gate_process", 0, False),
        ("max_jump", 2.0, 2),
        ("max_steps", 64.0, 64),
        ("rouge_weights", [1, True, 1], [1, 1, 1]),
        ("alpha", True, 1.0),
    ],
)
@pytest.mark.parametrize("good_first", [True, False])
def test_the_verdict_on_an_option_does_not_depend_on_what_was_called_before(name, bad, good, good_first):
    """1 == True and 2 == 2.0 (with equal hashes): a cache keyed on values alone let one stand in for the other."""
    if good_first:
        compute_score(None, GOOD, TRUTH, **{name: good})
    with pytest.raises(ConfigError, match=f"reward option {name}="):
        compute_score(None, GOOD, TRUTH, **{name: bad})
    assert compute_score(None, GOOD, TRUTH, **{name: good})["reason"] == "ok"


@pytest.mark.parametrize("alpha", [-MAX_ALPHA, -50.0, -1.0, 0.0, 1.0, MAX_ALPHA])
def test_every_valid_alpha_scores_without_overflow(alpha):
    result = compute_score(None, PARTLY, TRUTH, alpha=alpha)
    assert result["reason"] == "ok" and 0.0 <= result["process"] <= 1.0 and math.isfinite(result["score"])


def test_options_at_their_bounds_score_finite_and_sane():
    extreme = {
        "alpha": -MAX_ALPHA,
        "acc_weight": 1000,
        "format_weight": -1000,
        "process_weight": 1000,
        "padding_weight": 1000,
        "padding_tolerance": 0.999999,
        "max_jump": MAX_JUMP,
        "max_steps": MAX_STEPS,
        "max_step_chars": 10_000,
        "max_trace_chars": MAX_TRACE_CHARS,
        "gate_process": True,
    }
    long = (
        "<think>"
        + "\n".join(f"Step {k}: the light is green, then yellow {k}." for k in range(500))
        + "</think><answer>B</answer>"
    )
    for text in (GOOD, PARTLY, long, "", None):
        result = compute_score(None, text, TRUTH, **extreme)
        assert not result["reason"].startswith("error") and all(
            math.isfinite(v) for v in result.values() if isinstance(v, float)
        )
    assert compute_score(None, long, TRUTH, **extreme)["n_pred_steps"] == MAX_STEPS


def test_values_are_kept_in_canonical_form():
    config = RewardConfig.from_kwargs(alpha=2, rouge_weights=[1, 1, 2], extra_terms={})
    assert config.alpha == 2.0 and type(config.alpha) is float
    assert config.rouge_weights == (1.0, 1.0, 2.0) and config.extra_terms == ()
    assert RewardConfig.from_kwargs(alpha=2) == RewardConfig.from_kwargs(alpha=2.0)
