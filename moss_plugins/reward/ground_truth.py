"""The reference a rollout is scored against: ``{"answer": ..., "trace": [...], "options": [...]}``.

Accepted as a dict, its JSON string, or what a parquet reader makes of the dict (numpy arrays for lists).
A malformed ground truth is a data bug: it raises :class:`GroundTruthError` naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..output_format import LETTERS, normalize
from .segment import clean_step


class GroundTruthError(ValueError):
    """The ground truth of a sample is malformed."""


@dataclass(frozen=True)
class TraceStep:
    text: str
    t: tuple[float, float] | None = None


@dataclass(frozen=True)
class GroundTruth:
    answer: str
    trace: tuple[TraceStep, ...]
    options: tuple[str, ...] | None = None

    @cached_property  # read once per rollout by the scorer; the trace never changes
    def step_texts(self) -> list[str]:
        return [s.text for s in self.trace]


def _as_list(value: Any, field: str) -> list:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    raise GroundTruthError(f"{field} must be a list, got {type(value).__name__}: {value!r:.80}")


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GroundTruthError(f"{field} must be a non-empty string, got {value!r:.80}")
    return value


def _span(value: Any, field: str) -> tuple[float, float]:
    span = _as_list(value, field)
    if len(span) != 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in span):
        raise GroundTruthError(f"{field} must be [start, end] in seconds, got {value!r:.80}")
    start, end = float(span[0]), float(span[1])
    if not 0 <= start <= end:
        raise GroundTruthError(f"{field} must satisfy 0 <= start <= end, got [{start}, {end}]")
    return start, end


def _step(item: Any, field: str) -> TraceStep:
    if isinstance(item, str):
        text, span = item, None
    elif isinstance(item, Mapping):
        if "text" not in item:
            raise GroundTruthError(f"{field}.text is missing (a trace step is a string or {{'t': [s, e], 'text': ...}})")
        text = _text(item["text"], f"{field}.text")
        span = None if item.get("t") is None else _span(item["t"], f"{field}.t")
    else:
        raise GroundTruthError(f"{field} must be a string or an object with 'text', got {type(item).__name__}")
    cleaned = clean_step(_text(text, field if isinstance(item, str) else f"{field}.text"))
    if not cleaned:
        raise GroundTruthError(f"{field} has no text once its step marker is removed: {text!r:.80}")
    return TraceStep(cleaned, span)


def _answer(value: Any, options: tuple[str, ...] | None) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    answer = _text(value, "ground_truth.answer").strip()
    if not options:
        return answer
    if len(answer) == 1 and answer.upper() in LETTERS:
        if answer.upper() not in LETTERS[: len(options)]:
            raise GroundTruthError(f"ground_truth.answer {answer!r} is not one of the {len(options)} option letters")
        return answer.upper()
    matches = [LETTERS[k] for k, o in enumerate(options) if normalize(o) == normalize(answer)]
    if len(matches) != 1:
        raise GroundTruthError(f"ground_truth.answer {answer!r} is neither an option letter nor one option's text")
    return matches[0]


def parse_ground_truth(ground_truth: Any) -> GroundTruth:
    """Validate and normalize a ground truth."""
    if isinstance(ground_truth, (str, bytes)):
        try:
            ground_truth = json.loads(ground_truth)
        except ValueError as e:
            raise GroundTruthError(f"ground_truth is a string but not JSON: {e}") from None
    if not isinstance(ground_truth, Mapping):
        raise GroundTruthError(f"ground_truth must be an object with 'answer' and 'trace', got {type(ground_truth).__name__}")
    for key in ("answer", "trace"):
        if ground_truth.get(key) is None:
            raise GroundTruthError(f"ground_truth.{key} is missing")
    options = None
    if ground_truth.get("options") is not None:
        raw = _as_list(ground_truth["options"], "ground_truth.options")
        options = tuple(_text(o, f"ground_truth.options[{k}]") for k, o in enumerate(raw))
        if not 2 <= len(options) <= len(LETTERS):
            raise GroundTruthError(f"ground_truth.options must list 2 to {len(LETTERS)} options, got {len(options)}")
    trace = _as_list(ground_truth["trace"], "ground_truth.trace")
    if not trace:
        raise GroundTruthError("ground_truth.trace is empty: the process reward needs at least one reference step")
    steps = tuple(_step(item, f"ground_truth.trace[{k}]") for k, item in enumerate(trace))
    return GroundTruth(_answer(ground_truth["answer"], options), steps, options)


def cache_key(ground_truth: Any) -> str | bytes:
    """A string that identifies a ground truth, for caching its prepared form."""
    if isinstance(ground_truth, (str, bytes)):
        return ground_truth
    try:
        return json.dumps(ground_truth, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    except (TypeError, ValueError) as e:
        raise GroundTruthError(f"ground_truth cannot be serialized: {e}") from None
