"""What the default process reward pays for: order, facts, polarity, stated times, wording; each with a case the
paper preset gets wrong (so these tests fail on the old reward)."""

import numpy as np
import pytest
from reward_cases import render

from moss_plugins.reward import ConfigError, RewardConfig, compute_score, similarity_matrix
from moss_plugins.reward.dtw import monotone_alignment
from moss_plugins.reward.facts import FactIndex
from moss_plugins.reward.lexicon import analyse, conflicts
from moss_plugins.reward.timing import stated_times

TRUTH = {
    "answer": "A",
    "options": ["red", "blue"],
    "trace": [
        {"t": [0, 2], "text": "The kettle is filled with water at the tap."},
        {"t": [2, 17], "text": "It is switched on and steam rises after 15 seconds."},
        {"t": [20, 21], "text": "The kettle clicks off at 21 s."},
        {"t": [22, 27], "text": "The hot water is poured into a white mug."},
    ],
}
REF = [s["text"] for s in TRUTH["trace"]]
PARAPHRASE = [
    "Water from the tap fills the kettle.",
    "Once switched on, steam rose after fifteen seconds.",
    "At 21 s the kettle clicked off.",
    "The hot water was poured into a white cup.",
]


def process(steps, **options):
    return compute_score(None, render(steps, "A"), TRUTH, **options)["process"]


def test_a_paraphrase_beats_the_reference_reversed_or_shuffled():
    assert process(PARAPHRASE) > process(REF[::-1]) and process(PARAPHRASE) > process(
        [REF[2], REF[0], REF[3], REF[1]]
    )
    assert process(REF[::-1]) < 0.1 and process(REF[::-1], preset="paper") > 0.3  # the paper's DTW pays it


def test_one_predicted_step_cannot_stand_for_several_reference_steps():
    merged = [" and ".join(s.rstrip(".") for s in REF)]  # one step (no sentence break to split it at)
    assert process(merged) < 0.1 < process(merged, preset="paper")


def test_a_negated_step_does_not_match_its_positive():
    negated = [
        REF[0],
        "It is switched on but no steam rises.",
        REF[2],
        "The hot water is not poured into a white mug.",
    ]
    assert process(negated) < process(PARAPHRASE) and process(negated, preset="paper") > process(
        PARAPHRASE, preset="paper"
    )


def contradict(a: str, b: str) -> bool:
    return conflicts(analyse(a), analyse(b))


def test_a_negation_counts_against_the_claim_it_negates():
    assert contradict("The cars stop.", "The cars don't stop.") and contradict("灯变红了。", "灯没有变红。")
    assert contradict("The door opens.", "The door is not opened.") and contradict(
        "The door opens.", "It stays closed."
    )
    assert not contradict("The door is not opened.", "The door stays closed.")  # one claim, two wordings
    assert not contradict("The cup is empty.", "Nothing is left in the cup.")  # another claim negated
    assert not contradict("She stops.", "She no longer moves.") and contradict(
        "She stops.", "She keeps moving."
    )
    assert contradict("The light is on.", "The light is off.") and not contradict(
        "The light is off.", "It is not on."
    )
    assert contradict("It moves left.", "It moves right.") and not contradict(
        "After that, it is red.", "It is red before the cut."
    )
    assert not contradict("Die Tür öffnet sich nicht.", "Die Tür ist geschlossen.")
    assert contradict("Die Tür öffnet sich.", "Die Tür ist geschlossen.")
    assert not contradict("La puerta ya no está abierta.", "La puerta está cerrada.")
    assert contradict("La puerta está abierta.", "La puerta está cerrada.")


def test_another_videos_trace_in_the_same_template_scores_low():
    other = [
        "The kettle is filled with water at the sink.",
        "It is switched on and steam rises after 40 seconds.",
        "The kettle clicks off at 48 s.",
        "The hot water is poured into a green mug.",
    ]
    assert process(other) < 0.35 < process(PARAPHRASE)
    assert process(other, preset="paper") > process(PARAPHRASE, preset="paper")


def test_facts_weigh_more_than_scaffolding():
    index = FactIndex.build(["The light turns red at 3 s."])
    wrong_colour, wrong_scaffold = index.matrix(
        ["The light turns blue at 3 s.", "A light turned red at 3 s."], 3.0
    )[0]
    assert wrong_colour < 0.5 and wrong_scaffold > 0.9


def test_wording_stems_numbers_and_synonyms():
    index = FactIndex.build(["The door opens and two cars stop at 2.50 s."])
    sim = index.matrix(
        ["The door opened and 2 vehicles halted at 2.5 seconds.", "A cat sleeps on the sofa."], 3.0
    )[0]
    assert sim[0] > 0.8 and sim[1] < 0.1
    assert analyse("twelve").canon == analyse("12").canon == ("12",) and analyse("1.50").canon == ("1.5",)


def test_chinese_keeps_working():
    truth = {"answer": "A", "options": ["变红", "变绿"], "trace": ["灯是绿色的。", "然后灯变成红色。"]}
    exact = compute_score(None, "<think>灯是绿色的。\n然后灯变成红色。</think><answer>A</answer>", truth)[
        "process"
    ]
    close = compute_score(None, "<think>一开始是绿灯。\n接着灯变红了。</think><answer>A</answer>", truth)[
        "process"
    ]
    flipped = compute_score(None, "<think>然后灯变成红色。\n灯是绿色的。</think><answer>A</answer>", truth)[
        "process"
    ]
    assert exact == 1.0 and 0.1 < close < 1.0 and flipped < close


def test_stated_times_are_checked_against_the_reference():
    assert stated_times("at 2.5 s, then 3 seconds later, at 0:42 and 21秒") == [2.5, 3.0, 42.0, 21.0]
    right = ["The kettle is filled with water at the tap at 1 s."] + REF[1:]
    wrong = ["The kettle is filled with water at the tap at 19 s."] + REF[1:]
    assert process(wrong) < process(right)
    assert process(wrong, time_weight=0.0) == process(right, time_weight=0.0)


def test_monotone_alignment_is_one_to_one_and_in_order():
    cost = 1 - np.array([[1.0, 0.0, 0.9], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    distance, rows, cols = monotone_alignment(cost)
    assert distance == 0.0 and rows.tolist() == [0, 1, 2] and cols.tolist() == [0, 1, 2]
    distance, rows, cols = monotone_alignment(
        1 - np.eye(3)[:, ::-1]
    )  # reversed: one step can be matched in order
    assert distance == pytest.approx(2.0) and len(rows) == 1
    distance, rows, _ = monotone_alignment(np.ones((3, 2)))  # nothing similar: every reference step unmatched
    assert distance == 3.0 and len(rows) == 0


def test_the_default_stays_in_range_on_random_traces():
    rng = np.random.default_rng(4)
    words = "the light turns red green not no kettle 2 15 s at steam cup water never off on 灯 红 没".split()
    for _ in range(200):
        steps = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(rng.integers(0, 9))]
        r = compute_score(None, render(steps, "A"), TRUTH)
        assert (
            0.0 <= r["process"] <= 1.0
            and 0.0 <= r["dtw_normalized"] <= 1.0
            and r["reason"] in ("ok", "no_steps,bad_format")
        )
        sim = similarity_matrix(REF, steps or ["x"])
        assert sim.shape == (4, max(len(steps), 1))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("preset", "papr"),
        ("alignment", "diagonal"),
        ("polarity", 1),
        ("time_weight", 1.5),
        ("semantic_weight", -0.1),
        ("order_penalty", -1),
        ("negation_penalty", "x"),
        ("fact_weight", 0),
        ("embedding_model", ""),
        ("caps_follow_reference", "yes"),
    ],
)
def test_new_options_are_validated(option, value):
    with pytest.raises(ConfigError, match=option):
        RewardConfig.from_kwargs(**{option: value})


MOVING = {
    "answer": "A",
    "options": ["x", "y"],
    "trace": [
        {
            "t": [0, 9.5],
            "text": "The pink triangle moves right from 44% to 68% of the width, about 2.5% per second.",
        },
        {
            "t": [0, 9.5],
            "text": "The purple square moves right from 22% to 72% of the width, about 5.3% per second.",
        },
        {
            "t": [0, 9.5],
            "text": "The blue circle slides right from 21% to 62% of the width, about 4.3% per second.",
        },
        {"t": [9.5, 9.6], "text": "So the purple square passes the pink triangle first."},
    ],
}
MOVING_STEPS = [s["text"] for s in MOVING["trace"]]


def moving(steps, **options):
    return compute_score(None, render(steps, "A"), MOVING, **options)["process"]


def test_a_measure_read_off_the_video_is_compared_with_a_tolerance():
    estimated = [
        MOVING_STEPS[0].replace("44%", "45%").replace("2.5%", "2.4%"),
        MOVING_STEPS[1].replace("5.3%", "5.2%"),
        *MOVING_STEPS[2:],
    ]
    wrong = [MOVING_STEPS[0].replace("44%", "60%"), *MOVING_STEPS[1:]]
    assert 0.9 < moving(estimated) < 1.0 and moving(wrong) < moving(estimated)
    counted = FactIndex.build(["She stacks 3 boxes."]).matrix(
        ["She stacks 4 boxes.", "She stacks 3 boxes."], 3.0
    )
    assert counted[0, 0] < 0.6 < counted[0, 1]  # a count is exact


def test_steps_over_the_same_span_may_come_in_any_order():
    same_span = [MOVING_STEPS[2], MOVING_STEPS[0], MOVING_STEPS[1], MOVING_STEPS[3]]
    assert moving(same_span) == 1.0 and moving(same_span, time_order=False) < 0.9
    across = [MOVING_STEPS[3], *MOVING_STEPS[:3]]  # the conclusion first: its span comes after the others'
    assert moving(across) < 0.9


def test_filler_after_the_trace_costs_however_short_the_trace():
    short = {
        "answer": "A",
        "options": ["x", "y"],
        "trace": [
            {"t": [0, 2], "text": "The lamp turns green at 2 s."},
            {"t": [2, 9], "text": "It stays green until the end, so the answer is A."},
        ],
    }
    steps = [s["text"] for s in short["trace"]]
    for filler in (["Let me check again."], ["Let me check again.", "The camera does not move."]):
        for truth, ref in ((short, steps), (MOVING, MOVING_STEPS)):
            plain = compute_score(None, render(ref, "A"), truth)["score"]
            assert compute_score(None, render(ref + filler, "A"), truth)["score"] < plain
    explored = ["I first look at the whole scene from above.", *MOVING_STEPS]  # a look around first: free
    assert compute_score(None, render(explored, "A"), MOVING)["padding"] == 0.0


def test_a_stand_in_words_closeness_does_not_depend_on_the_words_learnt_beside_it():
    """Exact equality: the cosines are computed one word at a time, so a rollout's score does not depend on which
    other rollouts brought new words into the same lookup (a matrix product of another width may round a
    column differently, which made the default reward differ at ~1e-9 between batches and processes)."""
    words = sorted(
        {w.strip(".,;").lower() for text in PARAPHRASE + REF for w in text.split()}
        | {
            "cauldron",
            "boiling",
            "ceramic",
            "beaker",
            "pours",
            "heats",
            "switch",
            "vapour",
            "rattles",
            "lid",
            "stove",
            "liquid",
            "tap",
            "faucet",
            "jug",
            "teapot",
            "cup",
            "drinks",
            "sink",
            "hot",
        }
    )
    together, one_by_one = FactIndex.build(REF), FactIndex.build(REF)
    together._learn_words(set(words))
    for w in words:
        one_by_one._learn_words({w})
    assert together._near == one_by_one._near
