"""The MOSS-Video sample, its validator and its codec: one JSON object per line (JSONL) or per row (parquet).

    {"id": "synth-000017", "video": "videos/synth-000017.mp4",
     "question": "...", "options": ["...", "...", "...", "..."], "answer": "B",
     "task_type": "next_state", "observed_until": 6.0,
     "trace": [{"t": [0.0, 2.0], "text": "...", "state": {"light": "green"}}, ...],
     "split": "test", "source": "synthetic", "meta": {...}}

``video`` is relative to a media root (the folder of the JSONL by default). The model may see only frames
before ``observed_until``; trace steps are evidence, so none may start after it.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .json_text import parse_json
from .output_format import LETTERS

SPLITS = ("train", "val", "test")
TASK_TYPES = ("next_state", "final_state", "event_order", "change_count", "state_at_cut")
FIELDS = (
    "id",
    "video",
    "question",
    "options",
    "answer",
    "task_type",
    "observed_until",
    "trace",
    "split",
    "source",
    "meta",
)
# meta fields naming a file under the media root (moss_plugins.data.captions.STATES_KEY)
META_PATHS = ("states",)


# The forms a sample takes on disk, by the fields each stores as JSON text: free-form nested objects (per-scene
# states, meta) that a columnar reader (pyarrow, HF ``datasets``) cannot give one type across rows.
JSON_TEXT_FIELDS = {"jsonl": (), "parquet": ("meta", "trace.state"), "lmms": ("trace", "meta")}


class ValidationError(ValueError):
    """A sample breaks the format. ``where`` is "file:line" (or "file:row"), ``field`` the offending field."""

    def __init__(self, message: str, field: str = "", where: str = ""):
        self.message, self.field, self.where = message, field, where
        prefix = ": ".join(p for p in (where, field) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def located(self, where: str) -> ValidationError:
        return ValidationError(self.message, self.field, where)


@dataclass(frozen=True)
class TraceStep:
    """One reference step. ``t`` is always set in a sample; a reward ground truth may give bare step texts."""

    t: tuple[float, float] | None
    text: str
    state: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"t": [self.t[0], self.t[1]], "text": self.text, "state": self.state}


@dataclass(frozen=True)
class Sample:
    id: str
    video: str
    question: str
    options: tuple[str, ...]
    answer: str
    task_type: str
    observed_until: float
    trace: tuple[TraceStep, ...]
    split: str
    source: str
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        d["options"] = list(self.options)
        d["trace"] = [s.to_json() for s in self.trace]
        return d

    def ground_truth(self) -> dict:
        """What the reward scores against (``moss_plugins.reward.compute_score``'s ``ground_truth``)."""
        return {
            "answer": self.answer,
            "options": list(self.options),
            "trace": [{"t": [s.t[0], s.t[1]], "text": s.text} for s in self.trace],
        }

    @property
    def answer_text(self) -> str:
        return self.options[LETTERS.index(self.answer)]

    @classmethod
    def from_json(cls, obj: Any) -> Sample:
        """Validate one sample; raises :class:`ValidationError` naming the field."""
        if not isinstance(obj, Mapping):
            raise ValidationError(f"a sample must be a JSON object, got {type(obj).__name__}")
        missing = [f for f in FIELDS if f not in obj and f != "meta"]
        if missing:
            raise ValidationError(f"missing field(s) {missing}", missing[0])
        unknown = sorted(set(obj) - set(FIELDS))
        if unknown:
            raise ValidationError(f"unknown field(s) {unknown}; the fields are {list(FIELDS)}", unknown[0])
        options = _options(obj["options"])
        answer = check_str(obj["answer"], "answer").strip().upper()
        if answer not in LETTERS[: len(options)]:
            raise ValidationError(
                f"{obj['answer']!r} is not one of the option letters {LETTERS[: len(options)]}", "answer"
            )
        observed_until = check_number(obj["observed_until"], "observed_until")
        if observed_until <= 0:
            raise ValidationError(f"must be > 0 seconds, got {observed_until}", "observed_until")
        task_type = check_str(obj["task_type"], "task_type")
        if task_type not in TASK_TYPES:
            raise ValidationError(f"{task_type!r} is not a task type; known: {list(TASK_TYPES)}", "task_type")
        split = check_str(obj["split"], "split")
        if split not in SPLITS:
            raise ValidationError(f"{split!r} is not a split; known: {list(SPLITS)}", "split")
        meta = check_mapping(obj.get("meta"), "meta")
        for key in META_PATHS:
            if isinstance(meta.get(key), str):
                relative_path(meta[key], f"meta.{key}")
        return cls(
            id=check_str(obj["id"], "id"),
            video=relative_path(obj["video"], "video"),
            question=check_str(obj["question"], "question"),
            options=options,
            answer=answer,
            task_type=task_type,
            observed_until=observed_until,
            trace=_trace(obj["trace"], observed_until),
            split=split,
            source=check_str(obj["source"], "source"),
            meta=meta,
        )


def to_row(sample: Sample, form: str = "jsonl") -> dict:
    """``sample`` as one row of ``form`` (a key of :data:`JSON_TEXT_FIELDS`)."""
    row = sample.to_json()
    for name in JSON_TEXT_FIELDS[form]:
        _map_field(row, name, lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True))
    return row


def from_row(row: Any, form: str = "jsonl") -> Sample:
    """The validated :class:`Sample` of one row of ``form`` (the inverse of :func:`to_row`); raises
    :class:`ValidationError` naming the field."""
    if isinstance(row, Mapping) and JSON_TEXT_FIELDS[form]:  # JSONL rows are read as they are (no copy)
        row = decode_fields(row, form)
    return Sample.from_json(row)


def decode_fields(row: Mapping, form: str) -> dict:
    """A copy of ``row`` with the fields ``form`` stores as JSON text decoded (not validated: a doc that carries
    only some fields, like lmms-eval's, can be read too)."""
    row = copy.deepcopy(dict(row))
    for name in JSON_TEXT_FIELDS[form]:
        _map_field(row, name, lambda v, name=name: _json_text(v, name))
    return row


def _map_field(row: dict, name: str, fn) -> None:
    """Apply ``fn`` to the field ``name`` ("meta", or "trace.state" for each step's) where it is present."""
    head, _, key = name.partition(".")
    if not key:
        if head in row:
            row[head] = fn(row[head])
        return
    steps = row.get(head)
    if isinstance(steps, (str, bytes, Mapping)) or not hasattr(steps, "__iter__"):
        return  # not a list of steps (a number, null, ...): the sample's own check names the field
    for step in steps:
        if isinstance(step, dict) and key in step:
            step[key] = fn(step[key])


def _json_text(value: Any, name: str) -> Any:
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return parse_json(value)
    except ValueError as e:
        raise ValidationError(
            f"a JSON-encoded column is not JSON ({name} is not a valid JSON string: {e})"
        ) from None


def check_list(value: Any, name: str) -> list:
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"must be a list, got {type(value).__name__}", name)
    return list(value)


def check_str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"must be a non-empty string, got {value!r:.60}", name)
    return value


def check_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"must be a finite number, got {value!r:.60}", name)
    return float(value)


def check_mapping(value: Any, name: str) -> dict:
    """A JSON object, copied; missing (None) is {}, but an empty list or string is an error, not {}."""
    value = {} if value is None else value
    if not isinstance(value, Mapping):
        raise ValidationError(f"must be an object, got {type(value).__name__}", name)
    return dict(value)


def check_span(value: Any, name: str) -> tuple[float, float]:
    """A time span ``[start, end]`` in seconds with 0 <= start <= end (a list, or a numpy array from parquet)."""
    span = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(span, (list, tuple)) or len(span) != 2:
        raise ValidationError(f"must be a list [start, end] in seconds, got {span!r:.60}", name)
    start, end = check_number(span[0], f"{name}[0]"), check_number(span[1], f"{name}[1]")
    if not 0 <= start <= end:
        raise ValidationError(f"needs 0 <= start <= end, got [{start}, {end}]", name)
    return start, end


def relative_path(value: Any, name: str) -> str:
    """``value`` if it is a path relative to the media root that stays inside it (no ``..``, not absolute):
    every path read from a row goes through here (:func:`moss_plugins.data.paths.confined`)."""
    path = check_str(value, name)
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or "\x00" in path:
        raise ValidationError(f"must be a path relative to the media root without '..', got {path!r}", name)
    return path


def _options(value: Any) -> tuple[str, ...]:
    options = tuple(check_str(o, f"options[{k}]") for k, o in enumerate(check_list(value, "options")))
    if not 2 <= len(options) <= len(LETTERS):
        raise ValidationError(f"needs 2 to {len(LETTERS)} options, got {len(options)}", "options")
    if len({o.strip().lower() for o in options}) != len(options):
        raise ValidationError("options must be distinct", "options")
    return options


def _trace(value: Any, observed_until: float) -> tuple[TraceStep, ...]:
    items = check_list(value, "trace")
    if not items:
        raise ValidationError("needs at least one step", "trace")
    steps, last_start = [], 0.0
    for k, item in enumerate(items):
        name = f"trace[{k}]"
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"must be an object with 't', 'text' and 'state', got {type(item).__name__}", name
            )
        start, end = check_span(item.get("t"), f"{name}.t")
        if start > observed_until:
            raise ValidationError(
                f"starts at {start} s, after observed_until={observed_until} s: a reference step cannot rely on "
                "masked frames",
                f"{name}.t",
            )
        if start < last_start:
            raise ValidationError(
                f"starts at {start} s, before the previous step ({last_start} s)", f"{name}.t"
            )
        last_start = start
        state = check_mapping(item.get("state"), f"{name}.state")
        steps.append(TraceStep((start, end), check_str(item.get("text"), f"{name}.text"), state))
    return tuple(steps)
