"""Every known way to game the reward scores strictly below a concise, correct answer with a faithful trace.

Subsequence DTW ignores predicted steps outside the alignment, so without the padding term the first two hacks
would be free (their process reward is a perfect 1.0).
"""

import pytest
from reward_cases import OPTIONS, QUESTION, render

from moss_plugins.reward import compute_score

PARAPHRASE = [
    "At first the light shows green and traffic moves.",
    "Then it changes to yellow, cars brake.",
    "Next it becomes red and the cars wait at the line.",
    "It goes back to green: the order is green, yellow, red.",
    "The clip ends on green, so the next colour is yellow.",
]
IRRELEVANT = [f"Side remark {k}: the sky, the trees and the buildings look unremarkable." for k in range(50)]
CONFIGS = [
    {},
    {"gate_process": True},
    {"alpha": 0.0},
    {"alpha": 5.0},
    {"max_jump": 1},
    {"preset": "paper"},
    {"preset": "paper", "max_jump": 1},
    {"time_weight": 0.0, "order_penalty": 0.0, "negation_penalty": 0.0},
]


def hacks(ref_steps):
    faithful = render(ref_steps)
    return {
        "reference repeated 10 times": render(ref_steps * 10),
        "reference + 50 irrelevant steps": render(ref_steps + IRRELEVANT),
        "every option letter": render(ref_steps, "A, B, C, D"),
        "every option text": render(ref_steps, "; ".join(OPTIONS)),
        "every option as a list": render(ref_steps, "A. green B. yellow C. red D. dark"),
        "two identical answer blocks": faithful + "\n<answer>B</answer>",
        "two different answer blocks": faithful + "\n<answer>C</answer>",
        "question copied as the trace": render([QUESTION] + OPTIONS),
        "empty think block": "<think></think>\n<answer>B</answer>",
        "answer only": "<answer>B</answer>",
    }


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "defaults"
)
def test_each_hack_scores_below_the_faithful_answer(truth, ref_steps, config):
    honest = compute_score("moss_video", render(ref_steps), truth, **config)["score"]
    for name, output in hacks(ref_steps).items():
        hacked = compute_score("moss_video", output, truth, **config)
        assert hacked["score"] < honest, (name, hacked)


def test_padding_is_what_stops_the_dtw_blind_spot(truth, ref_steps):
    for output in (render(ref_steps * 10), render(ref_steps + IRRELEVANT)):
        r = compute_score(None, output, truth, preset="paper")
        assert r["process"] == 1.0  # subsequence DTW alone cannot see it
        assert r["padding"] > 0.7
        honest = compute_score(None, render(ref_steps), truth, preset="paper")["score"]
        assert compute_score(None, output, truth, preset="paper", padding_weight=0.0)["score"] == honest


def test_the_default_also_sees_a_repeated_trace_in_the_process_reward(truth, ref_steps):
    """Copies after the first restate every step after the steps that follow it: an order the reference denies."""
    assert compute_score(None, render(ref_steps * 10), truth)["process"] == 0.0
    assert compute_score(None, render(ref_steps + IRRELEVANT), truth)["process"] == 1.0  # padding's job alone


@pytest.mark.parametrize("preset", ["default", "paper"])
@pytest.mark.parametrize("steps", ["reference", "reversed", "paraphrase", "paraphrase reversed"])
def test_repeating_or_padding_any_trace_never_pays(truth, ref_steps, steps, preset):
    base = {
        "reference": ref_steps,
        "reversed": ref_steps[::-1],
        "paraphrase": PARAPHRASE,
        "paraphrase reversed": PARAPHRASE[::-1],
    }[steps]
    concise = compute_score(None, render(base), truth, preset=preset)["score"]
    for k in (
        2,
        3,
        5,
    ):  # repeats could let the alignment pick steps across copies to repair the order: still lower
        assert compute_score(None, render(base * k), truth, preset=preset)["score"] < concise
    for n in (5, 20, 50):
        assert compute_score(None, render(base + IRRELEVANT[:n]), truth, preset=preset)["score"] < concise


def test_a_little_exploration_is_free(truth, ref_steps):
    explored = render(["The scene is a street crossing seen from above."] + ref_steps)
    r = compute_score(None, explored, truth)
    assert r["padding"] == 0.0 and r["process"] == 1.0
    assert r["score"] == compute_score(None, render(ref_steps), truth)["score"]


def test_paraphrase_pays_no_padding(truth):
    r = compute_score(None, render(PARAPHRASE), truth)
    assert r["padding"] == 0.0 and 0 < r["process"] < 1
