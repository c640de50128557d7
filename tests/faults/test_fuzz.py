"""Property-based fuzz of the input surfaces (hypothesis): ground truths, model outputs, samples, annotation rows
in every layout, chat replies and options. Each input gives a result or the one clear error of its surface, never
another exception; each surface runs a bounded number of examples, each under a deadline.

A failure prints the smallest input hypothesis found; add it to the fault tests with the fix.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from moss_plugins.data.annotations import FORMATS, _parse  # noqa: E402
from moss_plugins.data.build import BuildConfig, BuildError  # noqa: E402
from moss_plugins.data.rewrite import RejectedReply, parse_reply  # noqa: E402
from moss_plugins.data.synth.generate import SynthConfig, SynthConfigError  # noqa: E402
from moss_plugins.evaluation.judge import parse_verdict  # noqa: E402
from moss_plugins.json_text import parse_json  # noqa: E402
from moss_plugins.llm_client import AttemptFailed, completion_text, retry_after  # noqa: E402
from moss_plugins.reward import (  # noqa: E402
    RESULT_KEYS,
    ConfigError,
    GroundTruthError,
    compute_score,
)
from moss_plugins.reward.config import resolve_config  # noqa: E402
from moss_plugins.sample import ValidationError, from_row  # noqa: E402

FUZZ = settings(
    max_examples=150,
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# JSON values, the texts models and users actually write, and the odd ones (NaN, huge, deep, control characters).
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "A",
            "B",
            "x",
            "Step 1: the light turns red.",
            "<think>",
            "</answer>",
            "NaN",
            "1e999",
            "\x00",
            "红灯",
        ]
    ),
)
# Steps in the reward's own terms: negations, opposites, measures, times in words, four languages.
CLAIMS = st.lists(
    st.sampled_from(
        "not no never nothing no longer without n't 不 没有 不再 nicht kein nie ya no nunca sin off on left right closed "
        "open after before that 3 2.5 44% 5.3 cm/s half a minute zwei Sekunden 0:42 , . ; the door light is turns "
        "Die Tür öffnet sich La puerta está cerrada 灯 变 红".split()
    ),
    max_size=14,
).map(" ".join)
NUMBER = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
SPAN = st.one_of(st.lists(NUMBER, min_size=2, max_size=2), JSON)


def near(keys: dict) -> st.SearchStrategy:
    """Objects with these keys (each value well-formed or anything), some keys missing, some extra."""
    fields = {k: st.one_of(v, JSON) for k, v in keys.items()}
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda d: st.dictionaries(TEXT, JSON, max_size=2).map(lambda extra: {**extra, **d})
    )


STEP = st.one_of(TEXT, near({"t": SPAN, "text": TEXT, "state": st.dictionaries(TEXT, SCALAR, max_size=2)}))
TRUTH = near(
    {
        "answer": st.one_of(st.sampled_from("ABCD"), TEXT),
        "options": st.lists(TEXT, max_size=5),
        "trace": st.lists(STEP, max_size=6),
    }
)
SOLUTION = st.one_of(
    TEXT,
    st.none(),
    st.binary(max_size=40),
    st.builds(
        lambda steps, answer: (
            "<think>"
            + "\n".join(f"Step {k + 1}: {s}" for k, s in enumerate(steps))
            + f"</think><answer>{answer}</answer>"
        ),
        st.lists(TEXT, max_size=5),
        TEXT,
    ),
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@FUZZ
@given(
    truth=st.one_of(
        TRUTH,
        JSON,
        TRUTH.map(json.dumps),
        st.integers(100, 3000).map(_deep),
        TEXT,
        st.lists(CLAIMS, min_size=1, max_size=5).map(lambda t: {"answer": "A", "trace": t}),
    ),
    solution=st.one_of(SOLUTION, CLAIMS),
)
def test_a_ground_truth_scores_or_is_a_ground_truth_error(truth, solution):
    try:
        result = compute_score("moss", solution, truth)
    except GroundTruthError:
        return
    assert set(RESULT_KEYS) <= set(result) and isinstance(result["score"], float)
    assert not result["reason"].startswith("error:"), result["reason"]  # scored, not a caught failure


@FUZZ
@given(
    solution=st.one_of(
        SOLUTION,
        st.lists(CLAIMS, max_size=6).map(
            lambda steps: "<think>" + "\n".join(steps) + "</think><answer>B</answer>"
        ),
    )
)
def test_any_model_output_is_scored(solution):
    truth = {
        "answer": "B",
        "options": ["red", "green"],
        "trace": [
            {"t": [0, 1], "text": "The light turns green."},
            {"t": [0, 1], "text": "The door is not open at 2 s."},
            {"t": [1, 5], "text": "Die Tür bleibt geschlossen, 44% voll."},
        ],
    }
    result = compute_score("moss", solution, truth)
    assert set(RESULT_KEYS) <= set(result) and -10 < result["score"] < 10
    assert not result["reason"].startswith("error:"), result["reason"]  # scored, not a caught failure


SAMPLE = near(
    {
        "id": TEXT,
        "video": TEXT,
        "question": TEXT,
        "options": st.lists(TEXT, max_size=5),
        "answer": st.sampled_from("ABCDa"),
        "task_type": st.sampled_from(["next_state", "final_state", "x"]),
        "observed_until": NUMBER,
        "trace": st.lists(STEP, max_size=4),
        "split": st.sampled_from(["train", "test"]),
        "source": TEXT,
        "meta": JSON,
    }
)


@FUZZ
@given(row=st.one_of(SAMPLE, JSON), form=st.sampled_from(["jsonl", "parquet", "lmms"]))
def test_a_sample_row_is_a_sample_or_a_validation_error(row, form):
    if form != "jsonl" and isinstance(row, dict):  # the columnar forms hold some fields as JSON text
        row = {k: json.dumps(v) if k in ("meta", "trace") and form == "lmms" else v for k, v in row.items()}
    try:
        from_row(row, form)
    except ValidationError:
        pass


SEGMENTS_ROW = near(
    {
        "video": TEXT,
        "id": TEXT,
        "duration": NUMBER,
        "meta": JSON,
        "segments": st.lists(near({"t": SPAN, "caption": TEXT}), max_size=4),
    }
)
SHAREGPT_ROW = near(
    {
        "video_id": TEXT,
        "video_path": TEXT,
        "keyframe": st.lists(NUMBER, max_size=4),
        "timestamp": st.lists(st.one_of(NUMBER, TEXT), max_size=4),
        "captions": st.lists(
            near({"idx": st.one_of(st.sampled_from(["-1", "0", "1", "2"]), NUMBER, TEXT), "content": TEXT}),
            max_size=4,
        ),
    }
)


@FUZZ
@given(row=st.one_of(SEGMENTS_ROW, SHAREGPT_ROW, JSON), fmt=st.sampled_from([f for f in FORMATS]))
def test_an_annotation_row_is_an_annotation_or_a_validation_error(row, fmt):
    try:
        _parse(row, fmt, Path("/videos"), "annotations.jsonl:1")
    except ValidationError:
        pass


REPLY = st.one_of(
    TEXT,
    JSON.map(json.dumps),
    st.integers(100, 5000).map(_deep),
    near({"consistency": NUMBER, "supports_answer": JSON, "explanation": TEXT}).map(json.dumps),
    near({"steps": st.lists(near({"t": SPAN, "text": TEXT, "state": JSON}), max_size=4)}).map(json.dumps),
    st.builds(lambda a, b: f"```json\n{a}\n```{b}", JSON.map(json.dumps), TEXT),
)


@FUZZ
@given(reply=REPLY)
def test_a_judge_reply_is_a_verdict_or_unreadable(reply):
    try:
        rating, supports, explanation = parse_verdict(reply)
    except ValueError:
        return
    assert 1 <= rating <= 5 and supports in (True, False, None) and isinstance(explanation, str)


@FUZZ
@given(reply=REPLY, until=st.floats(0.1, 100), n=st.integers(1, 10))
def test_a_rewriter_reply_is_steps_or_rejected(reply, until, n):
    try:
        steps = parse_reply(reply, until, n)
    except RejectedReply:
        return
    assert steps and all(0 <= s.t[0] <= s.t[1] <= until + 1e-6 for s in steps)


@FUZZ
@given(
    body=st.one_of(JSON, near({"choices": st.lists(near({"message": near({"content": TEXT})}), max_size=2)}))
)
def test_a_completion_body_is_text_or_a_failed_attempt(body):
    try:
        assert isinstance(completion_text(body), str)
    except AttemptFailed:
        pass


@FUZZ
@given(text=st.one_of(TEXT, st.binary(max_size=60), JSON.map(json.dumps), st.integers(100, 5000).map(_deep)))
def test_json_text_is_a_value_or_a_value_error(text):
    try:
        parse_json(text)
    except ValueError:
        pass


@FUZZ
@given(value=st.one_of(TEXT, NUMBER.map(str), st.text(string.printable, max_size=30)))
def test_retry_after_is_a_bounded_wait_or_none(value):
    wait = retry_after({"retry-after": value})
    assert wait is None or 0 < wait <= 600


REWARD_OPTIONS = [
    "alpha",
    "max_jump",
    "preset",
    "acc_weight",
    "process_weight",
    "padding_tolerance",
    "similarity",
    "alignment",
    "max_steps",
    "time_weight",
    "extra_terms",
    "gate_process",
    "nonsense",
]


@FUZZ
@given(options=st.dictionaries(st.sampled_from(REWARD_OPTIONS), JSON, max_size=3))
def test_reward_options_are_a_configuration_or_a_config_error(options):
    try:
        resolve_config(**options)
    except ConfigError:
        pass


@FUZZ
@given(
    seed=st.integers(-5, 2**70),
    test_fraction=NUMBER,
    max_per_video=st.integers(-2, 10**9),
    n_options=st.integers(-2, 40),
    max_similarity=NUMBER,
    min_observed=NUMBER,
    max_trace_steps=st.integers(-2, 10**6),
    max_trace_chars=st.integers(-2, 10**9),
)
def test_build_options_are_a_configuration_or_a_build_error(**options):
    try:
        BuildConfig(**options)
    except BuildError:
        pass


@FUZZ
@given(
    fps=st.integers(-2, 10**6),
    size=st.tuples(st.integers(-2, 10**6), st.integers(-2, 10**6)),
    duration=st.tuples(NUMBER, NUMBER),
    tasks_per_video=st.integers(-2, 10),
    split_ratio=st.dictionaries(
        st.sampled_from(["train", "val", "test", "x"]), NUMBER, min_size=1, max_size=3
    ),
)
def test_synth_options_are_a_configuration_or_a_synth_error(**options):
    try:
        SynthConfig(**options)
    except SynthConfigError:
        pass
