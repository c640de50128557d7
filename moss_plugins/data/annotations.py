"""Timestamped segment captions, the input of ``moss data build``, in two layouts.

**segments** (this project's own, one JSON object per line)::

    {"video": "clips/cat.mp4", "id": "cat", "duration": 12.0,
     "segments": [{"t": [0.0, 4.0], "caption": "A cat sits beside an empty bowl."},
                  {"t": [4.0, 8.0], "caption": "A hand pours food into the bowl."}, ...],
     "meta": {...}}

``video`` is relative to the video root (the annotation file's folder by default) or absolute; ``id``
defaults to the video's file stem; ``duration`` and ``meta`` are optional. Segments are in time order and do
not overlap (gaps are fine).

**sharegpt4video** (the layout of ShareGPT4Video's ``sharegpt4video_40k.jsonl``, produced by its
differential sliding-window captioning)::

    {"video_id": "...", "video_path": "...", "zip_folder": "...",
     "keyframe": [0, 60, 120, ...], "timestamp": [0.0, 2.0, 4.0, ...],
     "captions": [{"idx": "0", "content": "<the first keyframe>"},
                  {"idx": "1", "content": "<what changed between keyframes 0 and 1>"}, ...,
                  {"idx": "-1", "content": "<the whole video>"}]}

Caption ``k >= 1`` describes what happens between keyframes ``k-1`` and ``k``, so it becomes the segment
``[timestamp[k-1], timestamp[k]]``; caption ``0`` describes the first keyframe (a zero-length segment at
``timestamp[0]``). The whole-video caption (``idx == "-1"``) is dropped: it describes the future too, so it must
never reach a question or a trace. This reading of the layout is taken from ShareGPT4Video's released
captioner (``slide_captioner_lmdeploy.py``: frame 0 is described alone, then each adjacent keyframe pair) and
from public loaders of the 40k file; other keys are ignored. ``video_path`` defaults to ``<video_id>.mp4``.

**activitynet**, **youcook2**, **charades_sta**: the dense-captioning datasets' own files, read by
:mod:`.activitynet`, :mod:`.youcook2` and :mod:`.charades_sta`, whose segments go through the segment policy of
:mod:`.segments` instead of being refused. ``auto`` recognises them per file: a ``.txt`` file is Charades-STA,
a JSON object with ``database`` is YouCook2, a JSON object of videos with ``timestamps`` and ``sentences`` is
ActivityNet Captions; a ``.jsonl`` file or a JSON list is read row by row (segments or ShareGPT4Video, by keys).

Every problem raises :class:`~moss_plugins.sample.ValidationError` with the file, line (or key) and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..json_text import parse_json
from ..sample import ValidationError, check_mapping, check_number, check_span, check_str
from . import activitynet, charades_sta, youcook2
from .io import strict_jsonl_rows
from .segments import Segment, VideoAnnotation

DATASETS = ("activitynet", "youcook2", "charades_sta")
FORMATS = ("auto", "segments", "sharegpt4video", *DATASETS)
SEGMENTS_KEYS = ("video", "id", "duration", "segments", "meta")


def read_annotations(
    paths: str | Path | Iterable[str | Path], fmt: str = "auto", video_root: str | Path | None = None
) -> list[VideoAnnotation]:
    """Every video of the annotation files (``.jsonl``; ``.json`` holding a list, or a dataset's JSON object;
    Charades-STA's ``.txt``), validated, in file order.

    Raises ValidationError ("file:line: field: message", or "file:key ID: ...") at the first bad row, and on a
    video id that appears twice (after making it file-name safe), naming both places.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown annotation format {fmt!r}; known: {list(FORMATS)}")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    videos, seen = [], {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such annotation file")
        root = (
            Path(video_root) if video_root is not None else path.parent
        ).absolute()  # workers may run elsewhere
        for ann, id_field in _file_videos(path, fmt, root):
            if ann.safe_id in seen:
                raise ValidationError(
                    f"video id {ann.video_id!r} already used at {seen[ann.safe_id]}; give each video a distinct "
                    "id",
                    id_field,
                    ann.where,
                )
            seen[ann.safe_id] = ann.where
            videos.append(ann)
    return videos


def _file_videos(path: Path, fmt: str, root: Path) -> Iterator[tuple[VideoAnnotation, str]]:
    """(video, the field naming its id) of one file, in file order."""
    if fmt == "charades_sta" or (fmt == "auto" and path.suffix == ".txt"):
        yield from ((ann, "video_id") for ann in charades_sta.read(path, root))
        return
    if path.suffix != ".json" and fmt not in ("activitynet", "youcook2"):
        rows: Iterable[tuple[str, Any]] = strict_jsonl_rows(path)
    else:
        try:
            data = parse_json(path.read_bytes())
        except ValueError as e:  # UnicodeDecodeError included
            raise ValidationError(f"not valid JSON ({e})", where=str(path)) from None
        reader = {"activitynet": activitynet, "youcook2": youcook2}.get(fmt) or next(
            (m for m in (youcook2, activitynet) if fmt == "auto" and m.looks_like(data)), None
        )
        if reader is not None:
            yield from ((ann, "video_id") for ann in reader.read(data, path, root))
            return
        if not isinstance(data, list):
            raise ValidationError(
                "a .json annotation file must hold a list of videos (or use .jsonl), a YouCook2 {'database': ...} "
                "object or an ActivityNet Captions {video_id: {duration, timestamps, sentences}} object",
                where=str(path),
            )
        rows = ((f"{path}:item {k}", item) for k, item in enumerate(data))
    for where, row in rows:
        try:
            ann = _parse(row, fmt, root, where)
        except ValidationError as e:
            raise e.located(where) from None
        yield ann, "video_id" if "video_id" in row else "id"


def _parse(row: Any, fmt: str, root: Path, where: str) -> VideoAnnotation:
    if not isinstance(row, Mapping):
        raise ValidationError(f"an annotation row must be a JSON object, got {type(row).__name__}")
    if fmt == "auto":
        fmt = "segments" if "segments" in row else "sharegpt4video" if "captions" in row else ""
        if not fmt:
            raise ValidationError(
                "neither 'segments' (segments layout) nor 'captions' (ShareGPT4Video layout) is present",
                "segments",
            )
    return _parse_segments(row, root, where) if fmt == "segments" else _parse_sharegpt4video(row, root, where)


def _parse_segments(row: Mapping, root: Path, where: str) -> VideoAnnotation:
    unknown = sorted(set(row) - set(SEGMENTS_KEYS))
    if unknown:
        raise ValidationError(f"unknown key(s) {unknown}; the keys are {list(SEGMENTS_KEYS)}", unknown[0])
    video = check_str(row.get("video"), "video")
    duration = None if row.get("duration") is None else check_number(row["duration"], "duration")
    if duration is not None and duration <= 0:
        raise ValidationError(f"must be > 0 seconds, got {duration}", "duration")
    items = row.get("segments")
    if not isinstance(items, list):
        raise ValidationError(
            f"must be a list of {{'t': [start, end], 'caption': ...}}, got {items!r:.60}", "segments"
        )
    segments = []
    for k, item in enumerate(items):
        name = f"segments[{k}]"
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"must be an object with 't' and 'caption', got {type(item).__name__}", name
            )
        start, end = check_span(item.get("t"), f"{name}.t")
        segments.append(
            (Segment(start, end, check_str(item.get("caption"), f"{name}.caption").strip()), f"{name}.t")
        )
    meta = check_mapping(row.get("meta"), "meta")
    video_id = check_str(row["id"], "id") if row.get("id") is not None else Path(video).stem
    return VideoAnnotation(video_id, root / video, _checked(segments, duration), duration, where, meta)


def _parse_sharegpt4video(row: Mapping, root: Path, where: str) -> VideoAnnotation:
    video_id = check_str(row.get("video_id"), "video_id")
    video = (
        check_str(row["video_path"], "video_path") if row.get("video_path") is not None else f"{video_id}.mp4"
    )
    stamps = row.get("timestamp")
    if not isinstance(stamps, list) or len(stamps) < 2:
        raise ValidationError(
            f"must list the keyframe times in seconds (two or more), got {stamps!r:.60}", "timestamp"
        )
    times = [check_number(_numeric(v), f"timestamp[{k}]") for k, v in enumerate(stamps)]
    keyframes = row.get("keyframe")
    if keyframes is not None and (not isinstance(keyframes, list) or len(keyframes) != len(times)):
        raise ValidationError(f"must have one frame index per timestamp ({len(times)})", "keyframe")
    captions = row.get("captions")
    if not isinstance(captions, list):
        raise ValidationError(
            f"must be a list of {{'idx': ..., 'content': ...}}, got {captions!r:.60}", "captions"
        )
    by_idx: dict[int, str] = {}
    for k, item in enumerate(captions):
        name = f"captions[{k}]"
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"must be an object with 'idx' and 'content', got {type(item).__name__}", name
            )
        try:
            idx = int(item.get("idx"))
        except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
            raise ValidationError(
                f"must be a keyframe index, got {item.get('idx')!r:.30}", f"{name}.idx"
            ) from None
        if idx == -1:
            continue  # the whole-video caption: it describes the future as well
        if not 0 <= idx < len(times):
            raise ValidationError(f"keyframe {idx} does not exist ({len(times)} timestamps)", f"{name}.idx")
        if idx in by_idx:
            raise ValidationError(f"keyframe {idx} is captioned twice", f"{name}.idx")
        by_idx[idx] = check_str(item.get("content"), f"{name}.content").strip()
    missing = [k for k in range(len(times)) if k not in by_idx]
    if missing:
        raise ValidationError(f"no caption for keyframe(s) {missing[:5]}", "captions")
    segments = []
    for k in range(len(times)):  # caption 0: the first keyframe; caption k: from keyframe k-1 to keyframe k
        start, end = check_span([times[max(k - 1, 0)], times[k]], f"timestamp[{k}]")
        segments.append((Segment(start, end, by_idx[k]), f"timestamp[{k}]"))
    meta = {k: row[k] for k in ("zip_folder",) if isinstance(row.get(k), str)}
    return VideoAnnotation(video_id, root / video, _checked(segments, None), None, where, meta)


def _checked(segments: list[tuple[Segment, str]], duration: float | None) -> tuple[Segment, ...]:
    """Segments (each a checked span) in time order, not overlapping, inside the video; raises naming the first
    bad one."""
    if len(segments) < 2:
        raise ValidationError(
            f"needs at least 2 segments (something observed, something to predict), got {len(segments)}",
            "segments",
        )
    prev_end = 0.0
    for seg, name in segments:
        if seg.start < prev_end:
            raise ValidationError(
                f"starts at {seg.start} s, before the previous segment ends ({prev_end} s): segments must be in "
                "time order and must not overlap",
                name,
            )
        if duration is not None and seg.end > duration:
            raise ValidationError(f"ends at {seg.end} s, after the video's duration ({duration} s)", name)
        prev_end = seg.end
    return tuple(seg for seg, _ in segments)


def _numeric(value: Any) -> Any:
    """Numbers written as strings ("2.00") are numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
