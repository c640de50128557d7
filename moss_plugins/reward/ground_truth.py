"""The reference a rollout is scored against: ``{"answer": ..., "trace": [...], "options": [...]}``.

Accepted as a dict, its JSON string, or what a parquet reader makes of the dict (numpy arrays for lists).
A malformed ground truth is a data bug: it raises :class:`GroundTruthError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..json_text import parse_json
from ..output_format import LETTERS, normalize
from ..sample import TraceStep, ValidationError, check_list, check_span, check_str
from .segment import clean_step


# The most a reference may hold. The default reward's caps follow the reference (it reads twice its steps, three
# times its text, from each rollout) and aligning costs steps x steps: 512 steps cost ~0.2 s a rollout, 2,000
# ~5 s. `moss data build` condenses a video's trace to 32 steps and 10,000 characters.
MAX_REFERENCE_STEPS = 512
MAX_REFERENCE_CHARS = 100_000


class GroundTruthError(ValidationError):
    """The ground truth of a sample is malformed."""


@dataclass(frozen=True)
class GroundTruth:
    answer: str
    trace: tuple[TraceStep, ...]
    options: tuple[str, ...] | None = None

    @cached_property  # read once per rollout by the scorer; the trace never changes
    def step_texts(self) -> list[str]:
        return [s.text for s in self.trace]


def _step(item: Any, field: str) -> TraceStep:
    if isinstance(item, str):
        text, span, where = item, None, field
    elif isinstance(item, Mapping):
        if "text" not in item:
            raise GroundTruthError(
                "is missing (a trace step is a string or {'t': [s, e], 'text': ...})", f"{field}.text"
            )
        text, where = check_str(item["text"], f"{field}.text"), f"{field}.text"
        span = None if item.get("t") is None else check_span(item["t"], f"{field}.t")
    else:
        raise GroundTruthError(f"must be a string or an object with 'text', got {type(item).__name__}", field)
    cleaned = clean_step(check_str(text, where))
    if not cleaned:
        raise GroundTruthError(f"has no text once its step marker is removed: {text!r:.80}", field)
    return TraceStep(span, cleaned)


def _answer(value: Any, options: tuple[str, ...] | None) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    answer = check_str(value, "ground_truth.answer").strip()
    if not options:
        return answer
    if len(answer) == 1 and answer.upper() in LETTERS:
        if answer.upper() not in LETTERS[: len(options)]:
            raise GroundTruthError(
                f"{answer!r} is not one of the {len(options)} option letters", "ground_truth.answer"
            )
        return answer.upper()
    matches = [LETTERS[k] for k, o in enumerate(options) if normalize(o) == normalize(answer)]
    if len(matches) != 1:
        raise GroundTruthError(
            f"{answer!r} is neither an option letter nor one option's text", "ground_truth.answer"
        )
    return matches[0]


def parse_ground_truth(ground_truth: Any) -> GroundTruth:
    """Validate and normalize a ground truth."""
    try:
        return _parse(ground_truth)
    except GroundTruthError:
        raise
    except ValidationError as e:  # the sample's own field checks (moss_plugins.sample)
        raise GroundTruthError(e.message, e.field) from None


def _parse(ground_truth: Any) -> GroundTruth:
    if isinstance(ground_truth, (str, bytes)):
        try:
            ground_truth = parse_json(ground_truth)
        except ValueError as e:
            raise GroundTruthError(f"a string but not JSON: {e}", "ground_truth") from None
    if not isinstance(ground_truth, Mapping):
        raise GroundTruthError(
            f"must be an object with 'answer' and 'trace', got {type(ground_truth).__name__}", "ground_truth"
        )
    for key in ("answer", "trace"):
        if ground_truth.get(key) is None:
            raise GroundTruthError("is missing", f"ground_truth.{key}")
    options = None
    if ground_truth.get("options") is not None:
        raw = check_list(ground_truth["options"], "ground_truth.options")
        options = tuple(check_str(o, f"ground_truth.options[{k}]") for k, o in enumerate(raw))
        if not 2 <= len(options) <= len(LETTERS):
            raise GroundTruthError(
                f"must list 2 to {len(LETTERS)} options, got {len(options)}", "ground_truth.options"
            )
    trace = check_list(ground_truth["trace"], "ground_truth.trace")
    if not trace:
        raise GroundTruthError(
            "is empty: the process reward needs at least one reference step", "ground_truth.trace"
        )
    if len(trace) > MAX_REFERENCE_STEPS:
        raise GroundTruthError(
            f"has {len(trace)} steps, more than the {MAX_REFERENCE_STEPS} a reference may have "
            "(scoring a rollout costs steps x steps): condense it, as `moss data build "
            "--max-trace-steps` does",
            "ground_truth.trace",
        )
    steps = tuple(_step(item, f"ground_truth.trace[{k}]") for k, item in enumerate(trace))
    chars = sum(len(s.text) for s in steps)
    if chars > MAX_REFERENCE_CHARS:
        raise GroundTruthError(
            f"has {chars} characters, more than the {MAX_REFERENCE_CHARS} a reference may have: "
            "condense it, as `moss data build --max-trace-chars` does",
            "ground_truth.trace",
        )
    return GroundTruth(_answer(ground_truth["answer"], options), steps, options)


def cache_key(ground_truth: Any) -> str | bytes:
    """A string that identifies a ground truth, for caching its prepared form."""
    if isinstance(ground_truth, (str, bytes)):
        return ground_truth
    try:
        return json.dumps(
            ground_truth, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)
        )
    except (TypeError, ValueError) as e:
        raise GroundTruthError(f"cannot be serialized: {e}", "ground_truth") from None
    except RecursionError:
        raise GroundTruthError("is nested too deep to serialize", "ground_truth") from None
