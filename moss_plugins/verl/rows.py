"""What MossVideoDataset requires of a verl row (``moss data export --format verl``, contract 3).

Checked for every row when the dataset is built and by ``run.sh --check``, so a data bug stops the run at
start-up with its file, row and field, not in a rollout hours later. The sample-level rules (answer letter,
distinct options, task type, no reference step after the cut) are MOSS-Video's own validator
(:meth:`moss_plugins.data.schema.Sample.from_json`) applied to the row's fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moss_plugins.data.captions import CAPTIONS_KEY, render_captions
from moss_plugins.data.export import VIDEO_TOKEN
from moss_plugins.data.schema import Sample, ValidationError
from moss_plugins.data.video_check import check_video
from moss_plugins.reward import GroundTruthError, parse_ground_truth

from .frames import video_item_end


def check_row(
    row: Mapping, frames: bool = True, video_key: str = "videos", prompt_key: str = "prompt"
) -> None:
    """Raise :class:`ValidationError` (with ``field``) if ``row`` cannot be trained on."""
    prompt = _plain(row.get(prompt_key))
    users = [m for m in prompt or [] if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users or not all(isinstance(m.get("content"), str) for m in users):
        raise ValidationError("must be a list of chat messages with a user turn of text", prompt_key)
    placeholders = sum(m["content"].count(VIDEO_TOKEN) for m in users)
    if placeholders != 1:
        raise ValidationError(
            f"needs exactly one {VIDEO_TOKEN} placeholder, found {placeholders}", prompt_key
        )

    reward_model = row.get("reward_model")
    if not isinstance(reward_model, Mapping) or reward_model.get("ground_truth") is None:
        raise ValidationError("must be {'style': 'rule', 'ground_truth': {...}}", "reward_model")
    try:
        truth = parse_ground_truth(_plain(reward_model["ground_truth"]))
    except GroundTruthError as e:
        raise ValidationError(str(e), "reward_model.ground_truth") from None

    extra = row.get("extra_info")
    if not isinstance(extra, Mapping):
        raise ValidationError(
            "must be an object with the sample's fields (id, observed_until, ...)", "extra_info"
        )
    until = extra.get("observed_until")
    try:
        Sample.from_json({
            "id": extra.get("id"), "video": "video.mp4", "question": extra.get("question"),
            "options": _plain(extra.get("options")), "answer": extra.get("answer"), "task_type": extra.get("task_type"),
            "observed_until": until, "split": extra.get("split"), "source": str(row.get("data_source") or ""),
            "trace": [{"t": list(s.t or (0.0, 0.0)), "text": s.text} for s in truth.trace],
        })  # fmt: skip
    except ValidationError as e:
        where = "reward_model.ground_truth" if e.field.startswith("trace") else "extra_info"
        raise ValidationError(e.message, f"{where}.{e.field}") from None
    if truth.answer != str(extra.get("answer")).strip().upper():
        raise ValidationError(
            f"{truth.answer!r} differs from extra_info.answer {extra.get('answer')!r}",
            "reward_model.ground_truth.answer",
        )

    if frames:
        videos = _plain(row.get(video_key)) or []
        if len(videos) != 1 or not isinstance(videos[0], Mapping):
            raise ValidationError(f"needs exactly one video, got {len(videos)}", video_key)
        try:
            end = video_item_end(videos[0], f"{video_key}[0]")
        except ValueError as e:
            raise ValidationError(str(e).split(": ", 1)[-1], f"{video_key}[0]") from None
        if abs(end - float(until)) > 1e-6:
            raise ValidationError(
                f"video_end={end} differs from extra_info.observed_until={until}", f"{video_key}[0]"
            )
        path = os.fspath(videos[0].get("video") or "").removeprefix("file://")
        if not os.path.exists(path):
            raise ValidationError(f"{path!r} is not a file (export paths are absolute: re-export if the videos "
                                  "moved)", f"{video_key}[0].video")  # fmt: skip
        # The check `moss data validate` runs (decodes, frames before the cut, sane shape); once per video.
        check_video(path, end, field=f"{video_key}[0].video", until_field=f"{video_key}[0].video_end")
    else:
        try:
            render_captions(extra.get(CAPTIONS_KEY), until)
        except ValueError as e:
            raise ValidationError(str(e).split(": ", 1)[-1], f"extra_info.{CAPTIONS_KEY}") from None


def check_file(path: str | Path, frames: bool = True) -> tuple[int, list[str]]:
    """(rows, "file: row N: field: problem" messages) for a verl parquet file."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    errors = []
    for k, row in enumerate(rows):
        try:
            check_row(row, frames)
        except ValidationError as e:
            errors.append(str(e.located(f"{path}: row {k}")))
    return len(rows), errors


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value
