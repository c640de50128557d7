"""``moss data export``: MOSS-Video samples as verl RLHFDataset parquet or as an lmms-eval task folder.

verl (one row per sample)::

    {"data_source": "moss_video",
     "prompt": [{"role": "user", "content": "<video>\\n" + build_prompt(question, options)}],
     "videos": [{"video": "/abs/path.mp4", "video_start": 0.0, "video_end": observed_until}],
     "ability": "video_temporal_reasoning",
     "reward_model": {"style": "rule", "ground_truth": {"answer", "options", "trace": [{"t", "text"}]}},
     "extra_info": {"index", "id", "split", "task_type", "observed_until", "question", "options", "answer",
                    "captions"}}

Video paths are absolute because verl reads the parquet from wherever the trainer runs. ``captions`` says what
the frames before the cut show, as timestamped text, for policies without a vision tower
(:mod:`moss_plugins.data.captions`).

lmms (a folder the lmms-eval tasks read): ``<split>.jsonl`` with one row per sample (``id, video, question,
options, answer, task_type, observed_until, trace, split, source, meta``; ``video`` relative to the folder;
``trace`` and ``meta`` as JSON strings, because HF ``datasets`` cannot infer one schema for per-scene state
dicts) and the videos (and their per-frame state files, if any) under ``videos/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..output_format import build_prompt
from .captions import CAPTIONS_KEY, STATES_KEY, observed_captions
from .io import LoadReport, input_files, load_samples, media_root, write_parquet
from .paths import OverlapError, atomic_path, check_disjoint, confined, remove_stale_temps
from .schema import SPLITS, Sample, ValidationError

DATA_SOURCE = "moss_video"
ABILITY = "video_temporal_reasoning"
VIDEO_TOKEN = "<video>"
LMMS_JSON_FIELDS = ("trace", "meta")


class ExportError(ValueError):
    """The input cannot be exported (a video is missing, two videos would collide, the output overlaps the
    input, ...)."""


@dataclass
class Exported:
    files: dict[str, Path]  # split (or "all") -> written file
    loaded: LoadReport  # what was read, with the rows skipped as invalid (if allowed)


def read_samples(source: str | Path, split: str | None = None, skip_invalid: bool = False
                 ) -> tuple[list[Sample], Path, LoadReport]:  # fmt: skip
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
        if not _confined(root, sample.video, "video", source, sample).is_file():
            raise ExportError(f"{source}: sample {sample.id!r}: video {sample.video!r} is not a file under {root}")
    return samples, root, report


def _confined(root: Path, rel: str, field: str, source, sample: Sample) -> Path:
    try:
        return confined(root, rel, field)
    except ValidationError as e:
        raise ExportError(f"{source}: sample {sample.id!r}: {e}") from None


def _check_output(source: str | Path, root: Path, out: Path, as_file: bool) -> None:
    """An output file may not be an input file; an output folder may not overlap the input folder."""
    try:
        if as_file:
            if out.resolve() in {p.resolve() for p in input_files(source)}:
                raise OverlapError(f"--out {out} is the input file itself; choose another file")
        else:
            check_disjoint([root], out)
    except OverlapError as e:
        raise ExportError(str(e)) from None


def verl_row(sample: Sample, index: int, media_root: Path) -> dict:
    video = {"video": str((media_root / sample.video).resolve()), "video_start": 0.0,
             "video_end": sample.observed_until}  # fmt: skip
    extra_info = {"index": index, "id": sample.id, "split": sample.split, "task_type": sample.task_type,
                  "observed_until": sample.observed_until, "question": sample.question,
                  "options": list(sample.options), "answer": sample.answer,
                  CAPTIONS_KEY: observed_captions(sample, media_root)}  # fmt: skip
    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": f"{VIDEO_TOKEN}\n{build_prompt(sample.question, sample.options)}"}],
        "videos": [video],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": sample.ground_truth()},
        "extra_info": extra_info,
    }


def export_verl(source: str | Path, out: str | Path, split: str | None = None, skip_invalid: bool = False,
                progress: bool = False) -> Exported:  # fmt: skip
    """Write verl parquet: one file if ``out`` ends in ``.parquet``, else ``out/<split>.parquet`` per split."""
    from tqdm.auto import tqdm

    out = Path(out)
    samples, root, report = read_samples(source, split, skip_invalid)
    _check_output(source, root, out, as_file=out.suffix == ".parquet")
    groups = {"all": samples} if out.suffix == ".parquet" else _by_split(samples)
    written = {}
    for name, group in groups.items():
        path = out if out.suffix == ".parquet" else out / f"{name}.parquet"
        rows = [verl_row(s, k, root) for k, s in enumerate(tqdm(group, desc=f"{name} rows", unit="row",
                                                                disable=not progress))]  # fmt: skip
        written[name] = write_parquet(rows, path)
    return Exported(written, report)


def lmms_row(sample: Sample, video: str) -> dict:
    row = sample.to_json()
    row["video"] = video
    if isinstance(row["meta"].get(STATES_KEY), str):
        row["meta"][STATES_KEY] = _export_path(row["meta"][STATES_KEY])
    for key in LMMS_JSON_FIELDS:
        row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
    return row


def sample_from_lmms_row(row: dict) -> Sample:
    """The :class:`Sample` of an lmms export row (the inverse of :func:`lmms_row`; ``video`` stays relative to
    the export folder)."""
    row = dict(row)
    for key in LMMS_JSON_FIELDS:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return Sample.from_json(row)


def export_lmms(source: str | Path, out: str | Path, split: str | None = None, skip_invalid: bool = False,
                link: bool = False, progress: bool = False) -> Exported:  # fmt: skip
    """Write an lmms-eval task folder: ``out/<split>.jsonl`` per split and the videos under ``out/videos/``
    (copied, or symlinked with ``link=True``). ``out`` may not overlap the input folder; every file is written
    whole or not at all, the videos first, so a folder with a ``<split>.jsonl`` has all its videos."""
    from tqdm.auto import tqdm

    out = Path(out)
    samples, root, report = read_samples(source, split, skip_invalid)
    _check_output(source, root, out, as_file=False)
    targets: dict[str, Path] = {}  # path in the export -> source file
    for sample in samples:
        states = sample.meta.get(STATES_KEY)
        extra = [("meta.states", states)] if isinstance(states, str) else []
        for field, rel_src in [("video", sample.video), *extra]:
            src = _confined(root, rel_src, field, source, sample)
            if field != "video" and not src.is_file():
                continue
            rel, src = _export_path(rel_src), src.resolve()
            if targets.setdefault(rel, src) != src:
                raise ExportError(f"two different files would both be exported as {rel}: {targets[rel]} and {src}")
    for folder in {out, *((out / rel).parent for rel in targets)}:
        remove_stale_temps(folder)
    for rel, src in tqdm(sorted(targets.items()), desc="copying videos", unit="video", disable=not progress):
        _place(src, out / rel, link)
    written = {}
    for name, group in _by_split(samples).items():
        with atomic_path(out / f"{name}.jsonl") as tmp, tmp.open("w", encoding="utf-8") as f:
            for sample in group:
                f.write(json.dumps(lmms_row(sample, _export_path(sample.video)), ensure_ascii=False) + "\n")
        written[name] = out / f"{name}.jsonl"
    return Exported(written, report)


def _by_split(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.split, []).append(sample)
    return {s: groups[s] for s in SPLITS if s in groups}


def _export_path(video: str) -> str:
    """Where a video goes in the export: under ``videos/``, keeping its relative path (``videos/`` once)."""
    parts = PurePosixPath(video).parts
    return str(PurePosixPath("videos", *(parts[1:] if parts[0] == "videos" else parts)))


def _place(src: Path, dst: Path, link: bool, copy=shutil.copyfile) -> None:
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


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console(soft_wrap=True)  # paths stay on one line
    if args.format == "verl":
        result = export_verl(args.input, args.out, args.split, args.skip_invalid, progress=True)
    else:
        result = export_lmms(args.input, args.out, args.split, args.skip_invalid, link=args.symlink, progress=True)
    console.print(f"read {args.input}: {result.loaded.summary()}", markup=False)
    for message in result.loaded.first_errors:
        console.print(f"  [yellow]skipped[/] {escape(message)}")
    for name, path in result.files.items():
        console.print(f"[green]wrote[/] {escape(f'{name}: {path}')}")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("export", help="write MOSS-Video samples for verl (parquet) or lmms-eval (a task folder)")
    p.add_argument("--format", choices=("verl", "lmms"), required=True)
    p.add_argument("--in", dest="input", required=True, metavar="DIR_OR_FILE",
                   help="a MOSS-Video JSONL/parquet file or a folder of them (videos relative to it)")  # fmt: skip
    p.add_argument("--out", required=True, metavar="PATH",
                   help="verl: a .parquet file, or a folder for <split>.parquet files; lmms: a folder")  # fmt: skip
    p.add_argument("--split", choices=SPLITS, help="export only this split")
    p.add_argument("--skip-invalid", action="store_true", help="skip invalid rows (counted) instead of stopping")
    p.add_argument("--symlink", action="store_true", help="lmms: symlink the videos instead of copying them")
    p.set_defaults(func=run)
