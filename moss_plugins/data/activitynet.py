"""ActivityNet Captions (Krishna et al., 2017) for ``moss data build --format activitynet``.

``train.json``, ``val_1.json`` and ``val_2.json`` each hold one JSON object::

    {"v_QOlSCBRmfWY": {"duration": 82.73, "timestamps": [[0.83, 19.86], [17.37, 60.81], ...],
                       "sentences": ["A young woman is seen standing in a room ...", ...]}, ...}

Sentence k describes ``timestamps[k]``. Segments overlap and leave gaps, so they go through the segment policy
(:func:`~moss_plugins.data.segments.tidy`) with the file's duration. The video is ``<id>.<ext>``,
``v_<id>.<ext>`` or, for an id written with the ``v_`` prefix, the id without it, in the video root (any
extension, ``.mp4`` first). The split is the file's: ``train*`` is train, ``val*`` is test (val_1 and val_2
annotate the same videos, so a build takes one of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..sample import ValidationError, check_number
from .segments import Segment, VideoAnnotation, VideoFinder, split_from_name, tidy


def looks_like(data: Any) -> bool:
    first = next(iter(data.values()), None) if isinstance(data, Mapping) else None
    return isinstance(first, Mapping) and "timestamps" in first and "sentences" in first


def read(data: Any, path: Path, root: Path) -> Iterator[VideoAnnotation]:
    if not isinstance(data, Mapping):
        raise ValidationError(
            "an ActivityNet Captions file holds one JSON object {video_id: {duration, timestamps, "
            f"sentences}}, got a {type(data).__name__}",
            where=str(path),
        )
    split, finder = split_from_name(path), VideoFinder(root)
    for video_id, entry in data.items():
        where = f"{path}:key {video_id}"
        try:
            segments, duration = _parse(entry)
        except ValidationError as e:
            raise e.located(where) from None
        kept, changes = tidy(segments, duration)
        bare = video_id.removeprefix("v_")
        stems = list(dict.fromkeys([video_id, f"v_{bare}", bare]))
        yield VideoAnnotation(
            video_id,
            finder.find("", stems),
            kept,
            duration,
            where,
            split=split,
            changes=changes,
            fit_to_video=True,
        )


def _parse(entry: Any) -> tuple[list[Segment], float]:
    if not isinstance(entry, Mapping):
        raise ValidationError(
            f"must be an object with duration, timestamps and sentences, got {type(entry).__name__}"
        )
    duration = check_number(entry.get("duration"), "duration")
    if duration <= 0:
        raise ValidationError(f"must be > 0 seconds, got {duration}", "duration")
    stamps, sentences = entry.get("timestamps"), entry.get("sentences")
    if not isinstance(stamps, list):
        raise ValidationError(f"must be a list of [start, end] in seconds, got {stamps!r:.60}", "timestamps")
    if not isinstance(sentences, list) or len(sentences) != len(stamps):
        raise ValidationError(
            f"must be a list of one sentence per timestamp ({len(stamps)}), got {sentences!r:.60}",
            "sentences",
        )
    segments = []
    for k, (span, sentence) in enumerate(zip(stamps, sentences)):
        if not isinstance(span, list) or len(span) != 2:
            raise ValidationError(f"must be [start, end] in seconds, got {span!r:.60}", f"timestamps[{k}]")
        if not isinstance(sentence, str):
            raise ValidationError(f"must be a string, got {type(sentence).__name__}", f"sentences[{k}]")
        start, end = (check_number(v, f"timestamps[{k}][{j}]") for j, v in enumerate(span))
        segments.append(Segment(start, end, sentence))
    return segments, duration
