"""What ``moss data export`` shares across formats: reading the input, keeping the output off it, placing files.

Each framework's row format, writer and reader side by side, lives in its adapter: verl's parquet in
:mod:`moss_plugins.verl.rows`, lmms-eval's task folder in :mod:`moss_plugins.lmms_eval.rows`; the command is
:mod:`moss_plugins.export_cli`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..sample import SPLITS, Sample, ValidationError
from .io import LoadReport, input_files, load_samples, media_root
from .paths import OverlapError, atomic_path, check_disjoint, confined


class ExportError(ValueError):
    """The input cannot be exported (a video is missing, two videos would collide, the output overlaps the
    input, ...)."""


@dataclass
class Exported:
    files: dict[str, Path]  # split (or "all") -> written file
    loaded: LoadReport  # what was read, with the rows skipped as invalid (if allowed)


def read_samples(
    source: str | Path, split: str | None = None, skip_invalid: bool = False
) -> tuple[list[Sample], Path, LoadReport]:
    """The samples of a JSONL/parquet file or a folder of them (optionally one split only), their media root
    (the folder holding the file(s): ``sample.video`` is relative to it, and may not leave it) and the load
    report."""
    source = Path(source)
    report = load_samples(source, skip_invalid=skip_invalid)
    root = media_root(source)
    if split is not None and split not in SPLITS:
        raise ExportError(f"unknown split {split!r}; known: {list(SPLITS)}")
    samples = [s for s in report.samples if split is None or s.split == split]
    if not samples:
        have = sorted({s.split for s in report.samples})
        raise ExportError(f"{source}: no samples{f' in split {split!r} (it has {have})' if split else ''}")
    for sample in samples:
        if not confined_path(root, sample.video, "video", source, sample).is_file():
            raise ExportError(
                f"{source}: sample {sample.id!r}: video {sample.video!r} is not a file under {root}"
            )
    return samples, root, report


def confined_path(root: Path, rel: str, field: str, source, sample: Sample) -> Path:
    try:
        return confined(root, rel, field)
    except ValidationError as e:
        raise ExportError(f"{source}: sample {sample.id!r}: {e}") from None


def check_output(source: str | Path, root: Path, out: Path, as_file: bool) -> None:
    """An output file may not be an input file; an output folder may not overlap the input folder."""
    try:
        if as_file:
            if out.resolve() in {p.resolve() for p in input_files(source)}:
                raise OverlapError(f"--out {out} is the input file itself; choose another file")
        else:
            check_disjoint([root], out)
    except OverlapError as e:
        raise ExportError(str(e)) from None


def by_split(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.split, []).append(sample)
    return {s: groups[s] for s in SPLITS if s in groups}


def place(src: Path, dst: Path, link: bool, copy=shutil.copyfile) -> None:
    """``dst`` becomes a symlink to ``src`` or a ``copy`` of it (``moss data build`` places videos this way too),
    replacing what an earlier export left there in one rename. A ``dst`` that is ``src`` itself (reached through
    a symlink) is left alone: replacing it would destroy the source."""
    src = src.resolve()
    if not dst.is_symlink() and dst.exists() and dst.resolve() == src:
        return
    with atomic_path(dst) as tmp:
        if link:
            os.symlink(src, tmp)
        else:
            copy(src, tmp)
