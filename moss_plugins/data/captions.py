"""The video as timestamped text, for policies without a vision tower (the Phi-2 recipe).

Captions must say what the frames before the cut show, nothing more. Sources, in order:

1. the per-frame ground-truth states the synthetic renderer writes beside each video (``meta.states``,
   ``videos/<id>.json``): each frame shown before ``observed_until`` contributes its state, runs of identical
   states become one line. This is what a perfect captioner would write, and it is independent of the
   reference trace, whose steps mix observations with the reasoning the policy must do itself (change counts,
   cycle durations, rates, predictions: even the states attached to "observation" steps carry them);
2. traces built from segment captions (``meta.trace_source == "captions"``, ``moss data build``): every step
   but the last is the annotation of an observed segment (clipped to the cut); the last step is the inference
   that states the answer and is never used;
3. anything else has no caption source: the list is empty and ``video_as: captions`` refuses the row.

It lives in the framework-free core because ``moss data export --format verl`` writes the result into
``extra_info.captions`` and the verl dataset (``moss_plugins.verl.dataset.MossVideoDataset``) renders it in place of
``<video>``.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..output_format import VIDEO_PLACEHOLDER, video_prompt
from ..sample import ValidationError, check_list, check_span, check_str
from .paths import confined

CAPTIONS_KEY = "captions"
# meta.states: a file of per-frame ground-truth states beside the video (synthetic sets)
STATES_KEY = "states"
# A continuously changing scene (a filling tank) differs in every frame: at most this many lines (2 per second
# of an 8 s clip), so the longest prompt of the bundled split stays near 1,000 tokens.
MAX_LINES = 16


def observed_captions(sample, media_root: str | Path) -> list[dict]:
    """``[{"t": [start, end], "text": ...}, ...]`` of what a sample shows before its cut, in time order."""
    states_file = (sample.meta or {}).get(STATES_KEY)
    if isinstance(states_file, str):
        try:
            path = confined(media_root, states_file, f"meta.{STATES_KEY}")
        except ValidationError as e:
            raise ValidationError(f"sample {sample.id!r}: {e}") from None
        try:
            stat = path.stat()
            states, fps = _read_states(str(path), stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValidationError(
                f"sample {sample.id!r}: per-frame states {path} unreadable: {e!r}"
            ) from None
        return state_captions(states, fps, sample.observed_until)
    if (sample.meta or {}).get("trace_source") == "captions":
        until = sample.observed_until
        return [
            {"t": [s.t[0], min(s.t[1], until)], "text": s.text} for s in sample.trace[:-1] if s.t[0] < until
        ]
    return []


@functools.lru_cache(maxsize=32)
def _read_states(path: str, mtime_ns: int, size: int) -> tuple[list, float]:
    """(states, fps) of a per-frame states file, parsed once per version of the file: the samples of a video (up
    to one per task type) share it, and an export asks for them one after the other."""
    record = json.loads(Path(path).read_text("utf-8"))
    return record["states"], float(record["fps"])


def state_captions(states: Sequence[Any], fps: float, until: float, max_lines: int = MAX_LINES) -> list[dict]:
    """Runs of identical per-frame states among the frames shown before ``until`` (frame k at k / fps).

    A run spans from its first frame to the switch, the next run's first frame, as the reference traces count
    ("red from 0.5 s to 3 s, 2.5 s in all"); the last visible run ends at its last frame, as theirs does."""
    visible = [s for k, s in enumerate(states) if k / fps < until]
    # (first frame, frame of the switch or the last visible frame, state)
    runs = [(a, min(b, len(visible) - 1), state) for state, a, b in segments(visible)]
    if len(runs) > max_lines:  # evenly spaced runs, always the first and the last visible one
        runs = [runs[i] for i in np.unique(np.round(np.linspace(0, len(runs) - 1, max_lines)).astype(int))]
    return [{"t": [round(a / fps, 3), round(b / fps, 3)], "text": describe(state)} for a, b, state in runs]


def describe(state: Any) -> str:
    """A state as compact text: ``left: (color: purple, level: 0.02), right: ...``."""
    if isinstance(state, Mapping):
        parts = [
            f"{k}: {describe(v)}" if not isinstance(v, Mapping) else f"{k}: ({describe(v)})"
            for k, v in state.items()
        ]
        return ", ".join(parts) if parts else "nothing"
    if isinstance(state, (list, tuple)):
        return " / ".join(describe(v) for v in state) if state else "none"
    if isinstance(state, float):
        return f"{state:.2f}"
    return str(state)


def segments(values: Sequence[Any], upto: int | None = None) -> list[tuple[Any, int, int]]:
    """Runs of equal values: (value, first frame, frame after the last), over frames [0, upto).

    Also the runs of the synthetic scenes' states (:mod:`moss_plugins.data.synth`); objects and lists are compared
    by their repr."""
    values = list(values[:upto] if upto is not None else values)
    out = []
    for _, group in itertools.groupby(enumerate(values), key=lambda kv: _hashable(kv[1])):
        group = list(group)
        out.append((group[0][1], group[0][0], group[-1][0] + 1))
    return out


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (dict, list)) else value


def secs(x: float, unit: str = " s") -> str:
    """Seconds as people write them: 2 s, 2.5 s, 2.25 s (``unit=""``: the number alone). Also the synthetic
    traces' and the lmms-eval scene solver's."""
    return f"{x:.2f}".rstrip("0").rstrip(".") + unit


def render_captions(captions: Any, until: float | None = None, where: str = "captions") -> str:
    """The text that replaces ``<video>``: one ``[start-end s] caption`` line per caption, then the cut.

    Raises ValidationError (a ValueError) if a caption is malformed or, when ``until`` (the cut) is given, reaches past it.
    """
    try:
        items = check_list(captions, CAPTIONS_KEY)  # also numpy arrays from parquet
    except ValidationError:
        items = []
    if not items:
        raise ValidationError(
            f"{where}: extra_info.{CAPTIONS_KEY} must be a non-empty list of {{'t': [start, end], 'text': ...}}, "
            f"got {captions!r:.80}. `moss data export --format verl` writes them for samples with per-frame "
            "states (synthetic sets) or traces built from segment captions."
        )
    lines = []
    for k, caption in enumerate(items):
        try:
            if not isinstance(caption, Mapping):
                raise ValidationError(f"must be an object, got {type(caption).__name__}")
            start, end = check_span(caption.get("t"), "t")
            text = check_str(caption.get("text"), "text")
        except ValidationError as e:
            raise ValidationError(
                f"{where}: extra_info.{CAPTIONS_KEY}[{k}] must be {{'t': [start, end], 'text': ...}} ({e})"
            ) from None
        if until is not None and (start >= until or end > until):
            raise ValidationError(
                f"{where}: extra_info.{CAPTIONS_KEY}[{k}] spans [{start}, {end}] s, past the cut at "
                f"{until} s: captions may only describe what is visible before it"
            )
        when = secs(start) if start == end else f"{secs(start, unit='')}-{secs(end)}"
        lines.append(f"[{when}] {text.strip()}")
    cut = "" if until is None else f"\nThe video is cut at {secs(until)}."
    return "The video, described in text:\n" + "\n".join(lines) + cut


def captions_prompt(content: str, captions: Any, until: float | None, where: str = "captions") -> str:
    """The user turn a policy without a vision tower sees: ``content`` with its video placeholder replaced by the
    rendered captions. The one place the text-only prompt is made (verl's dataset, the tiny models' corpus, the
    learning benchmark), so a model fine-tuned on it is trained by RL and evaluated on the same text."""
    return content.replace(VIDEO_PLACEHOLDER, render_captions(captions, until, where))


def text_prompt(sample, media_root: str | Path) -> str:
    """:func:`captions_prompt` of a sample's user turn (:func:`moss_plugins.output_format.video_prompt`, as
    ``moss data export --format verl`` writes it) with the captions of what it shows before its cut."""
    return captions_prompt(
        video_prompt(sample.question, sample.options),
        observed_captions(sample, media_root),
        sample.observed_until,
        where=sample.id,
    )
