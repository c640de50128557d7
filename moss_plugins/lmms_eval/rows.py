"""lmms-eval's row format, writer and reader side by side: ``moss data export --format lmms`` writes a task folder.

``<split>.jsonl`` holds one row per sample: the MOSS-Video fields (``id, video, question, options, answer,
task_type, observed_until, trace, split, source, meta``) with ``video`` relative to the folder and ``trace`` and
``meta`` as JSON strings, because HF ``datasets`` cannot infer one schema for per-scene state dicts (form
``"lmms"`` of :data:`moss_plugins.sample.JSON_TEXT_FIELDS`). The videos, and their per-frame state files if
any, go under ``videos/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

from ..data.captions import STATES_KEY
from ..data.export import Exported, ExportError, by_split, check_output, confined_path, place, read_samples
from ..data.io import write_jsonl
from ..data.paths import remove_stale_temps
from ..sample import JSON_TEXT_FIELDS, Sample, decode_fields, from_row, to_row

FORM = "lmms"
LMMS_JSON_FIELDS = JSON_TEXT_FIELDS[FORM]  # stored as JSON text


def export_path(video: str) -> str:
    """Where a video goes in the export: under ``videos/``, keeping its relative path (``videos/`` once)."""
    parts = PurePosixPath(video).parts
    return str(PurePosixPath("videos", *(parts[1:] if parts[0] == "videos" else parts)))


def lmms_row(sample: Sample, video: str) -> dict:
    """The row of ``sample`` whose video (and per-frame states) are at their place in the export."""
    meta = dict(sample.meta)
    if isinstance(meta.get(STATES_KEY), str):
        meta[STATES_KEY] = export_path(meta[STATES_KEY])
    return to_row(dataclasses.replace(sample, video=video, meta=meta), FORM)


def sample_from_lmms_row(row: dict) -> Sample:
    """The :class:`Sample` of an lmms export row (the inverse of :func:`lmms_row`; ``video`` stays relative to
    the export folder)."""
    return from_row(row, FORM)


def ground_truth(doc: dict) -> dict:
    """The reward core's ground truth (:meth:`Sample.ground_truth`'s fields) of an lmms-eval doc: a row of the
    export, validated when the split was loaded."""
    row = decode_fields({k: doc[k] for k in ("answer", "options", "trace")}, FORM)
    return {"answer": row["answer"], "options": list(row["options"]), "trace": row["trace"]}


def export_lmms(
    source: str | Path,
    out: str | Path,
    split: str | None = None,
    skip_invalid: bool = False,
    link: bool = False,
    progress: bool = False,
) -> Exported:
    """Write an lmms-eval task folder: ``out/<split>.jsonl`` per split and the videos under ``out/videos/``
    (copied, or symlinked with ``link=True``). ``out`` may not overlap the input folder; every file is written
    whole or not at all, the videos first, so a folder with a ``<split>.jsonl`` has all its videos."""
    from tqdm.auto import tqdm

    out = Path(out)
    samples, root, report = read_samples(source, split, skip_invalid)
    check_output(source, root, out, as_file=False)
    targets: dict[str, Path] = {}  # path in the export -> source file
    for sample in samples:
        states = sample.meta.get(STATES_KEY)
        extra = [("meta.states", states)] if isinstance(states, str) else []
        for field, rel_src in [("video", sample.video), *extra]:
            src = confined_path(root, rel_src, field, source, sample)
            if field != "video" and not src.is_file():
                continue
            rel, src = export_path(rel_src), src.resolve()
            if targets.setdefault(rel, src) != src:
                raise ExportError(
                    f"two different files would both be exported as {rel}: {targets[rel]} and {src}"
                )
    for folder in {out, *((out / rel).parent for rel in targets)}:
        remove_stale_temps(folder)
    for rel, src in tqdm(sorted(targets.items()), desc="copying videos", unit="video", disable=not progress):
        place(src, out / rel, link)
    written = {}
    for name, group in by_split(samples).items():
        written[name] = write_jsonl((lmms_row(s, export_path(s.video)) for s in group), out / f"{name}.jsonl")
    return Exported(written, report)
