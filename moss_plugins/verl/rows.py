"""verl's row format, writer and reader side by side (``moss data export --format verl``, contract 3).

One row per sample::

    {"data_source": "moss_video",
     "prompt": [{"role": "user", "content": video_prompt(question, options)}],  # "<video>\\n" + the question
     "videos": [{"video": "/abs/path.mp4", "video_start": 0.0, "video_end": observed_until}],
     "ability": "video_temporal_reasoning",
     "reward_model": {"style": "rule", "ground_truth": {"answer", "options", "trace": [{"t", "text"}]}},
     "extra_info": {"index", "id", "split", "task_type", "observed_until", "question", "options", "answer",
                    "captions"}}

Video paths are absolute because verl reads the parquet from wherever the trainer runs. ``captions`` says what
the frames before the cut show, as timestamped text, for policies without a vision tower
(:mod:`moss_plugins.data.captions`).

:func:`check_row` runs on every row when the dataset is built and in ``run.sh --check``, so a data bug stops the
run at start-up with its file, row and field, not in a rollout hours later: it decodes the sample the row
carries (:func:`sample_from_verl_row`, MOSS-Video's own validator) and checks the video and captions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moss_plugins.data.captions import CAPTIONS_KEY, observed_captions, render_captions
from moss_plugins.data.export import Exported, by_split, check_output, read_samples
from moss_plugins.data.io import write_parquet
from moss_plugins.data.video_check import check_video
from moss_plugins.output_format import VIDEO_PLACEHOLDER, video_prompt
from moss_plugins.reward import GroundTruthError, parse_ground_truth
from moss_plugins.sample import Sample, ValidationError

from .frames import video_item_end

DATA_SOURCE = "moss_video"
ABILITY = "video_temporal_reasoning"


def verl_row(sample: Sample, index: int, media_root: Path) -> dict:
    video = {
        "video": str((media_root / sample.video).resolve()),
        "video_start": 0.0,
        "video_end": sample.observed_until,
    }
    extra_info = {
        "index": index,
        "id": sample.id,
        "split": sample.split,
        "task_type": sample.task_type,
        "observed_until": sample.observed_until,
        "question": sample.question,
        "options": list(sample.options),
        "answer": sample.answer,
        CAPTIONS_KEY: observed_captions(sample, media_root),
    }
    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": video_prompt(sample.question, sample.options)}],
        "videos": [video],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": sample.ground_truth()},
        "extra_info": extra_info,
    }


def sample_from_verl_row(row: Mapping, video_key: str = "videos") -> Sample:
    """The sample a row carries (the inverse of :func:`verl_row`, as far as training needs it: per-step states
    and ``meta`` are not exported), its video named relative to the video's folder; raises
    :class:`ValidationError` naming the row's field."""
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
    videos = _plain(row.get(video_key)) or []
    if len(videos) != 1 or not isinstance(videos[0], Mapping):
        raise ValidationError(f"needs exactly one video, got {len(videos)}", video_key)
    try:
        sample = Sample.from_json(
            {
                "id": extra.get("id"),
                "video": os.path.basename(os.fspath(videos[0].get("video") or "")),
                "question": extra.get("question"),
                "options": _plain(extra.get("options")),
                "answer": extra.get("answer"),
                "task_type": extra.get("task_type"),
                "observed_until": extra.get("observed_until"),
                "split": extra.get("split"),
                "source": str(row.get("data_source") or ""),
                "trace": [{"t": list(s.t or (0.0, 0.0)), "text": s.text} for s in truth.trace],
            }
        )
    except ValidationError as e:
        head = e.field.split("[")[0].split(".")[0]
        where = {"trace": "reward_model.ground_truth", "video": f"{video_key}[0]"}.get(head, "extra_info")
        raise ValidationError(e.message, f"{where}.{e.field}") from None
    if truth.answer != sample.answer:
        raise ValidationError(
            f"{truth.answer!r} differs from extra_info.answer {extra.get('answer')!r}",
            "reward_model.ground_truth.answer",
        )
    return sample


def check_row(
    row: Mapping, frames: bool = True, video_key: str = "videos", prompt_key: str = "prompt"
) -> None:
    """Raise :class:`ValidationError` (with ``field``) if ``row`` cannot be trained on."""
    prompt = _plain(row.get(prompt_key))
    users = [m for m in prompt or [] if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users or not all(isinstance(m.get("content"), str) for m in users):
        raise ValidationError("must be a list of chat messages with a user turn of text", prompt_key)
    placeholders = sum(m["content"].count(VIDEO_PLACEHOLDER) for m in users)
    if placeholders != 1:
        raise ValidationError(
            f"needs exactly one {VIDEO_PLACEHOLDER} placeholder, found {placeholders}", prompt_key
        )
    sample = sample_from_verl_row(row, video_key)
    until = sample.observed_until
    extra = row["extra_info"]

    if frames:
        videos = _plain(row[video_key])
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
            raise ValidationError(
                f"{path!r} is not a file (export paths are absolute: re-export if the videos moved)",
                f"{video_key}[0].video",
            )
        # The check `moss data validate` runs (decodes, frames before the cut, sane shape); once per video.
        check_video(path, end, field=f"{video_key}[0].video", until_field=f"{video_key}[0].video_end")
    else:
        try:
            render_captions(extra.get(CAPTIONS_KEY), until)
        except ValueError as e:
            raise ValidationError(str(e).split(": ", 1)[-1], f"extra_info.{CAPTIONS_KEY}") from None


def export_verl(
    source: str | Path,
    out: str | Path,
    split: str | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
) -> Exported:
    """Write verl parquet: one file if ``out`` ends in ``.parquet``, else ``out/<split>.parquet`` per split."""
    from tqdm.auto import tqdm

    out = Path(out)
    samples, root, report = read_samples(source, split, skip_invalid)
    check_output(source, root, out, as_file=out.suffix == ".parquet")
    groups = {"all": samples} if out.suffix == ".parquet" else by_split(samples)
    written = {}
    for name, group in groups.items():
        path = out if out.suffix == ".parquet" else out / f"{name}.parquet"
        rows = [
            verl_row(s, k, root)
            for k, s in enumerate(tqdm(group, desc=f"{name} rows", unit="row", disable=not progress))
        ]
        written[name] = write_parquet(rows, path)
    return Exported(written, report)


def mini_split_overrides(out: Path, overrides: Sequence[str]) -> list[str]:
    """``data.train_files=`` and ``data.val_files=`` of the bundled mini split, exported to ``out``, unless
    ``overrides`` already name the training data (``run.sh --check`` and ``--smoke``)."""
    if any(o.startswith("data.train_files=") for o in overrides):
        return []
    from moss_plugins.data import mini_split_dir

    files = export_verl(mini_split_dir(), out).files
    return [f"data.train_files={files['train']}", f"data.val_files={files['test']}"]


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
