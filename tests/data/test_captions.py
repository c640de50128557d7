"""Captions for text-only policies say what the frames before the cut show, and nothing else."""

import dataclasses
import json

import pytest

from moss_plugins.data import Sample, TraceStep, load_samples, mini_split_dir
from moss_plugins.data.captions import describe, observed_captions, render_captions, state_captions

MINI = load_samples(mini_split_dir()).samples


def _frame_states(sample):
    record = json.loads((mini_split_dir() / sample.meta["states"]).read_text())
    return record["states"], record["fps"]


@pytest.mark.parametrize("sample", MINI, ids=lambda s: s.id)
def test_every_caption_line_is_what_its_frames_show_before_the_cut(sample):
    states, fps = _frame_states(sample)
    captions = observed_captions(sample, mini_split_dir())
    assert captions
    last_visible = max(k for k in range(len(states)) if k / fps < sample.observed_until)
    assert captions[-1]["t"][1] == pytest.approx(last_visible / fps)  # the latest visible state is there
    for k, caption in enumerate(captions):
        start, end = caption["t"]
        last = k == len(captions) - 1
        frames = range(round(start * fps), round(end * fps) + last)  # a span ends at the switch (exclusive)
        assert end < sample.observed_until and all(describe(states[f]) == caption["text"] for f in frames)
        if not last:
            assert describe(states[round(end * fps)]) != caption["text"]  # the frame at the end has switched


def test_caption_spans_end_at_the_switch_like_the_reference_trace():
    """A phase lasts from its first frame to the next phase's first frame, as the trace says ("red 2.5 s"): a
    caption ending at its last frame would make a text-only policy misread every duration by one frame."""
    sample = next(s for s in MINI if s.id == "synth-s0-00006-state_at_cut")
    spans = [c["t"] for c in observed_captions(sample, mini_split_dir())]
    assert spans == [list(step.t) for step in sample.trace[: len(spans)]]


@pytest.mark.parametrize("sample", MINI[::7], ids=lambda s: s.id)
def test_the_future_cannot_change_the_captions(sample, tmp_path):
    states, fps = _frame_states(sample)
    future = [{"light": "THE ANSWER"}] * sum(k / fps >= sample.observed_until for k in range(len(states)))
    (tmp_path / "videos").mkdir()
    (tmp_path / sample.meta["states"]).write_text(
        json.dumps({"fps": fps, "states": states[: len(states) - len(future)] + future})
    )
    assert observed_captions(sample, tmp_path) == observed_captions(sample, mini_split_dir())
    assert "THE ANSWER" not in render_captions(observed_captions(sample, tmp_path), sample.observed_until)


def test_traces_built_from_segment_captions_give_their_observed_segments_not_the_inference():
    sample = Sample(
        id="cat",
        video="cat.mp4",
        question="What happens next?",
        options=("It eats", "It sleeps"),
        answer="A",
        task_type="next_state",
        observed_until=8.0,
        split="train",
        source="captions",
        meta={"trace_source": "captions"},
        trace=(
            TraceStep((0.0, 4.0), "A cat sits beside an empty bowl."),
            TraceStep((4.0, 8.0), "A hand pours food."),
            TraceStep((8.0, 8.0), "So what happens next is: the cat eats."),
        ),
    )
    assert observed_captions(sample, ".") == [
        {"t": [0.0, 4.0], "text": "A cat sits beside an empty bowl."},
        {"t": [4.0, 8.0], "text": "A hand pours food."},
    ]
    assert observed_captions(dataclasses.replace(sample, meta={}), ".") == []  # no source: no captions


def test_continuous_scenes_are_thinned_to_max_lines_keeping_the_last_visible_frame():
    states = [{"level": k / 100} for k in range(100)]
    captions = state_captions(states, fps=10.0, until=8.05, max_lines=8)
    assert len(captions) == 8 and captions[0]["t"] == [0.0, 0.1] and captions[-1]["t"] == [8.0, 8.0]


@pytest.mark.parametrize(
    ("captions", "message"),
    [
        ([], "non-empty list"),
        ([{"t": [1.0, 3.0], "text": "late"}], "past the cut"),
        ([{"t": [0, 1]}], r"\[0\]"),
    ],
)
def test_bad_captions_are_refused(captions, message):
    with pytest.raises(ValueError, match=message):
        render_captions(captions, until=2.5)
