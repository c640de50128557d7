"""An annotated video (its timestamped segment captions) and the segment policy for public datasets.

Our own layouts must already hold clean segments (in time order, not overlapping, inside the video): the reader
refuses anything else, naming the row. The dense-captioning datasets (ActivityNet Captions, YouCook2,
Charades-STA) do not: their segments overlap, come unordered, repeat, or run past the video's end. Their
importers hand the raw segments to :func:`tidy`, which applies one stated policy and counts every change:

1. a segment whose caption is blank is dropped (``dropped: empty caption``);
2. one whose span is empty or reversed (end <= start, or end <= 0) is dropped (``dropped: empty span``);
3. a negative start is moved to 0 (``clamped: start before 0``);
4. with a known duration, a segment that starts at or after the end is dropped (``dropped: past the video's
   end``) and one that runs past it is cut at the end (``clipped: at the video's end``). Without one (Charades-STA,
   whose durations come from the video) :func:`fit` does the same at build time with the probed end;
5. an exact repeat (same span, same caption up to case and spacing) is dropped (``dropped: duplicate``);
6. segments are sorted by (start, end) (``reordered`` counts videos whose segments were not in that order);
7. overlaps, going in time order: a small one (at most half of the shorter segment) is trimmed by starting the
   later segment where the earlier ends (``trimmed: overlap``), so the cut between them shows the earlier one
   whole and none of the later; a large one (one segment mostly inside the other, or the same span described
   twice) merges the two into one segment spanning both, captions joined in order (``merged: overlap``), since
   neither can be asked for after a cut that already shows most of it.

A video left with fewer than two segments cannot be cut; the build counts it and moves on.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..output_format import normalize

_SAFE_ID_RE = re.compile(r"[^\w.-]+")  # letters and digits of every script stay: 猫 and 狗 are two ids
SMALL_OVERLAP = 0.5  # share of the shorter segment up to which an overlap is trimmed instead of merged


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    caption: str


@dataclass(frozen=True)
class VideoAnnotation:
    video_id: str
    video: Path  # resolved against the video root
    segments: tuple[Segment, ...]
    duration: float | None
    where: str  # "file:line" (or "file:key ID") of the annotation, for every later error about this video
    meta: dict = field(default_factory=dict)
    split: str | None = None  # the dataset's own split ("train" or "test"); None: assigned by the build
    changes: dict = field(default_factory=dict)  # what :func:`tidy` changed, by reason (dataset imports)
    # the build applies :func:`fit` with the probed end instead of refusing the video
    fit_to_video: bool = False

    @property
    def safe_id(self) -> str:
        """The id as a file-name and sample-id component."""
        return safe_id(self.video_id)


def safe_id(video_id: str) -> str:
    return _SAFE_ID_RE.sub("_", video_id).strip("._") or "video"


def tidy(segments: Iterable[Segment], duration: float | None) -> tuple[tuple[Segment, ...], Counter]:
    """The policy of the module docstring, steps 1-7: the segments to use and the count of each change (a
    Counter without zero counts)."""
    changes: Counter = Counter()
    kept = []
    for s in segments:
        caption = " ".join(s.caption.split())
        if not caption:
            changes["dropped: empty caption"] += 1
        elif s.end <= max(s.start, 0.0):  # reversed, or nothing after 0 s
            changes["dropped: empty span"] += 1
        else:
            changes["clamped: start before 0"] += s.start < 0
            kept.append(Segment(max(s.start, 0.0), s.end, caption))
    if duration is not None:
        kept, clipped = fit(kept, duration)
        changes.update(clipped)
    first: dict[tuple, Segment] = {}
    for s in kept:
        first.setdefault((s.start, s.end, normalize(s.caption)), s)
    unique = list(first.values())
    changes["dropped: duplicate"] += len(kept) - len(unique)
    ordered = sorted(unique, key=lambda s: (s.start, s.end))
    changes["reordered"] += ordered != unique
    out: list[Segment] = []
    for s in ordered:
        if out and s.start < out[-1].end:
            prev = out[-1]
            overlap = min(prev.end, s.end) - s.start
            if overlap <= SMALL_OVERLAP * min(prev.end - prev.start, s.end - s.start):
                changes["trimmed: overlap"] += 1
                s = Segment(prev.end, s.end, s.caption)
            else:
                changes["merged: overlap"] += 1
                out[-1] = Segment(prev.start, max(prev.end, s.end), _join(prev.caption, s.caption))
                continue
        out.append(s)
    return tuple(out), +changes


def fit(segments: Sequence[Segment], end: float) -> tuple[tuple[Segment, ...], Counter]:
    """Step 4 with the video's end: drop what starts at or after ``end``, cut what runs past it."""
    changes: Counter = Counter()
    out = []
    for s in segments:
        if s.start >= end:
            changes["dropped: past the video's end"] += 1
        elif s.end > end:
            changes["clipped: at the video's end"] += 1
            out.append(Segment(s.start, end, s.caption))
        else:
            out.append(s)
    return tuple(out), changes


def _join(first: str, second: str) -> str:
    """Both captions in time order, as sentences; one caption when they say the same."""
    if normalize(first) == normalize(second):
        return first
    return f"{first}{'' if first[-1] in '.!?' else '.'} {second}"


class VideoFinder:
    """Video files by name stem, any extension (``.mp4`` preferred), listing each folder once: a dataset of 10k
    videos must not glob its folder 10k times."""

    def __init__(self, root: Path):
        self.root = root
        self._folders: dict[str, dict[str, Path]] = {}

    def find(self, folder: str, stems: Sequence[str]) -> Path:
        """``root/folder/<stem>.<ext>`` for the first stem that has a file, else ``<stems[0]>.mp4`` (the build then
        reports it missing)."""
        files = self._folders.get(folder)
        if files is None:
            files = self._folders[folder] = {}
            try:
                entries = sorted(
                    os.scandir(self.root / folder), key=lambda e: (e.name.rsplit(".", 1)[-1] != "mp4", e.name)
                )
            except OSError:  # no such folder: every video in it is missing
                entries = []
            for entry in entries:
                if entry.is_file():
                    files.setdefault(entry.name.rsplit(".", 1)[0], Path(entry.path))
        return next((files[s] for s in stems if s in files), self.root / folder / f"{stems[0]}.mp4")


def split_from_name(path: Path) -> str | None:
    """A dataset's split from its file name: ``train`` for train*, ``test`` for val*/test* (ActivityNet's
    val_1/val_2, Charades-STA's test: the evaluation halves), None otherwise."""
    words = re.split(r"[^a-z]+", path.stem.lower())
    if "train" in words or "training" in words:
        return "train"
    if {"val", "validation", "test", "testing"} & set(words):
        return "test"
    return None
