"""Charades-STA (Gao et al., 2017) for ``moss data build --format charades_sta``.

``charades_sta_train.txt`` and ``charades_sta_test.txt`` hold one sentence per line::

    AO8RW 0.0 6.9##a person is putting a book on a shelf.

(video id, start and end in seconds, ``##``, the sentence), several lines per video, overlapping and in no
particular order. A video's lines become its segments, through the segment policy
(:func:`~moss_plugins.data.segments.tidy`); the file holds no duration, so what runs past the video's end is
handled at build time with the probed end. The video is ``<id>.<ext>`` in the video root (Charades'
``Charades_v1_480`` folder; any extension, ``.mp4`` first). The split is the file's (train or test).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from ..sample import ValidationError
from .segments import Segment, VideoAnnotation, VideoFinder, split_from_name, tidy

LAYOUT = "VIDEO_ID START END##sentence"


def read(path: Path, root: Path) -> Iterator[VideoAnnotation]:
    by_video: dict[str, list[Segment]] = {}
    first_line: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValidationError(f"not UTF-8 text ({e}); expected lines {LAYOUT}", where=str(path)) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        head, sep, sentence = line.partition("##")
        parts = head.split()
        if not sep or len(parts) != 3:
            raise ValidationError(f"expected {LAYOUT}, got {line!r:.60}", "line", where)
        video_id = parts[0]
        start, end = (_seconds(v, name, where) for v, name in zip(parts[1:], ("start", "end")))
        by_video.setdefault(video_id, []).append(Segment(start, end, sentence))
        first_line.setdefault(video_id, where)
    split, finder = split_from_name(path), VideoFinder(root)
    for video_id, segments in by_video.items():
        kept, changes = tidy(segments, None)
        yield VideoAnnotation(
            video_id,
            finder.find("", [video_id]),
            kept,
            None,
            first_line[video_id],
            split=split,
            changes=changes,
            fit_to_video=True,
        )


def _seconds(text: str, field: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(f"must be a number of seconds, got {text!r:.30}", field, where)
    return value
