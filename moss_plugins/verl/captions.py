"""The video as timestamped text, for policies without a vision tower (the Phi-2 recipe).

Captions must show exactly what the frames before the cut show, nothing more. They are derived from the
sample's reference trace, keeping only its *observation* steps:

- never the final step (every MOSS-Video trace ends with the inference that states the answer), nor any step
  that reaches the cut: inference steps are made at the cut (they end at ``observed_until``), observations of
  the visible video end before it; traces built from segment captions (``meta.trace_source == "captions"``,
  ``moss data build``) are the exception: their observed segments end at the cut and only the last step infers;
- from a step with a ``state``, only its string values (which lamp is lit, the disc's colour): numbers, lists
  and flags in a state are the reasoning (change counts, orders, durations, predictions) the policy must do;
- from a step without a state, its text only when the trace was built from segment captions, where the text is
  the annotation of an observed segment; otherwise such a step is skipped (its wording is the reference's).

This module is framework-free: the verl export writes the result into ``extra_info.captions`` and
:class:`~moss_plugins.verl.dataset.MossVideoDataset` renders it in place of ``<video>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

CAPTIONS_KEY = "captions"


def observed_captions(sample) -> list[dict]:
    """``[{"t": [start, end], "text": ...}, ...]`` for a :class:`~moss_plugins.data.schema.Sample`."""
    from_captions = (sample.meta or {}).get("trace_source") == "captions"
    out = []
    for step in sample.trace[:-1]:
        start, end = step.t
        if start >= sample.observed_until or (end >= sample.observed_until and not from_captions):
            continue
        shown = {k: v for k, v in (step.state or {}).items() if isinstance(v, str)}
        if shown:
            text = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items())
        elif from_captions and not step.state:
            text = step.text
        else:
            continue
        out.append({"t": [start, min(end, sample.observed_until)], "text": text})
    return out


def _seconds(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def render_captions(captions: Any, until: float | None = None, where: str = "captions") -> str:
    """The text that replaces ``<video>``: one ``[start-end s] caption`` line per caption, then the cut.

    Raises ValueError if a caption is malformed or, when ``until`` (the cut) is given, reaches past it.
    """
    if hasattr(captions, "tolist"):  # numpy arrays from parquet
        captions = captions.tolist()
    if not isinstance(captions, Sequence) or isinstance(captions, str) or not captions:
        raise ValueError(
            f"{where}: extra_info.{CAPTIONS_KEY} must be a non-empty list of {{'t': [start, end], 'text': ...}} "
            f"(written by `moss data export --format verl`), got {captions!r:.80}"
        )
    lines = []
    for k, caption in enumerate(captions):
        span = caption.get("t") if isinstance(caption, Mapping) else None
        span = span.tolist() if hasattr(span, "tolist") else span
        text = caption.get("text") if isinstance(caption, Mapping) else None
        if (not isinstance(text, str) or not text.strip() or not isinstance(span, Sequence) or len(span) != 2
                or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in span)):  # fmt: skip
            raise ValueError(
                f"{where}: extra_info.{CAPTIONS_KEY}[{k}] must be {{'t': [start, end], 'text': ...}}"
            )
        start, end = span
        if until is not None and (start >= until or end > until):
            raise ValueError(f"{where}: extra_info.{CAPTIONS_KEY}[{k}] spans [{start}, {end}] s, past the cut at "
                             f"{until} s: captions may only describe what is visible before it")  # fmt: skip
        when = f"{_seconds(start)} s" if start == end else f"{_seconds(start)}-{_seconds(end)} s"
        lines.append(f"[{when}] {text.strip()}")
    cut = "" if until is None else f"\nThe video is cut at {_seconds(until)} s."
    return "The video, described in text:\n" + "\n".join(lines) + cut
