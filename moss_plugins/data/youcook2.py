"""YouCook2 (Zhou et al., 2018) for ``moss data build --format youcook2``.

``youcookii_annotations_trainval.json``::

    {"database": {"GLd3aX16zBg": {"duration": 241.62, "subset": "training", "recipe_type": "113",
                                  "annotations": [{"id": 0, "segment": [90, 102], "sentence": "spread margarine on two
                                                   slices of white bread"}, ...],
                                  "video_url": "https://www.youtube.com/watch?v=GLd3aX16zBg"}, ...}}

Each annotation is one recipe step. The video is ``<subset>/<recipe_type>/<id>.<ext>`` under the video root
(the layout of YouCook2's ``raw_videos`` folder; any extension, ``.mp4`` first). The split is the video's
``subset``: training is train, validation (and testing) is test. Segments go through the segment policy
(:func:`~moss_plugins.data.segments.tidy`) with the video's ``duration``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..sample import ValidationError, check_number, check_str
from .segments import Segment, VideoAnnotation, VideoFinder, tidy

SPLITS = {"training": "train", "validation": "test", "testing": "test"}


def looks_like(data: Any) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("database"), Mapping)


def read(data: Any, path: Path, root: Path) -> Iterator[VideoAnnotation]:
    if not looks_like(data):
        raise ValidationError(
            "a YouCook2 file holds one JSON object {'database': {video_id: {...}}}", "database", str(path)
        )
    finder = VideoFinder(root)
    for video_id, entry in data["database"].items():
        where = f"{path}:key {video_id}"
        try:
            if not isinstance(entry, Mapping):
                raise ValidationError(f"must be an object, got {type(entry).__name__}")
            subset, recipe = check_str(entry.get("subset"), "subset"), str(entry.get("recipe_type", ""))
            if subset not in SPLITS:
                raise ValidationError(f"must be one of {list(SPLITS)}, got {subset!r:.30}", "subset")
            check_str(recipe, "recipe_type")
            duration = check_number(entry.get("duration"), "duration")
            if duration <= 0:
                raise ValidationError(f"must be > 0 seconds, got {duration}", "duration")
            segments = _segments(entry.get("annotations", []))
        except ValidationError as e:
            raise e.located(where) from None
        kept, changes = tidy(segments, duration)
        meta = {k: entry[k] for k in ("recipe_type", "video_url") if isinstance(entry.get(k), str)}
        yield VideoAnnotation(
            video_id,
            finder.find(f"{subset}/{recipe}", [video_id]),
            kept,
            duration,
            where,
            meta,
            split=SPLITS[subset],
            changes=changes,
            fit_to_video=True,
        )


def _segments(items: Any) -> list[Segment]:
    if not isinstance(items, list):
        raise ValidationError(
            f"must be a list of {{'segment': [start, end], 'sentence': ...}}, got {items!r:.60}",
            "annotations",
        )
    segments = []
    for k, item in enumerate(items):
        name = f"annotations[{k}]"
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"must be an object with 'segment' and 'sentence', got {type(item).__name__}", name
            )
        span = item.get("segment")
        if not isinstance(span, list) or len(span) != 2:
            raise ValidationError(f"must be [start, end] in seconds, got {span!r:.60}", f"{name}.segment")
        start, end = (check_number(v, f"{name}.segment[{j}]") for j, v in enumerate(span))
        sentence = item.get("sentence")
        if not isinstance(sentence, str):
            raise ValidationError(f"must be a string, got {type(sentence).__name__}", f"{name}.sentence")
        segments.append(Segment(start, end, sentence))
    return segments
