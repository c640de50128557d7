"""``moss data validate``: check MOSS-Video files and report every problem with its file, line and field.

Also opens every video (:func:`moss_plugins.data.video_check.check_video`, the check verl's and lmms-eval's
loaders run at start-up): exists, decodes, has frames before the sample's cut, sane size and aspect ratio.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..reward.segment import DEFAULT_MAX_STEP_CHARS, DEFAULT_MAX_STEPS, DEFAULT_MAX_TRACE_CHARS
from .io import load_samples
from ..sample import Sample


def check_sample_video(sample: Sample, root: Path) -> None:
    """The shared video check for one sample; ``video`` is relative to the folder of its JSONL file."""
    from .video_check import check_video

    check_video(root / sample.video, sample.observed_until)


def too_long(trace) -> str | None:
    """Why a reference trace is longer than the reward reads from a prediction with the paper preset's caps
    (then it cannot score fully even against itself), or None."""
    chars = sum(len(s.text) for s in trace)
    if len(trace) > DEFAULT_MAX_STEPS:
        return f"{len(trace)} steps > {DEFAULT_MAX_STEPS}"
    if chars > DEFAULT_MAX_TRACE_CHARS:
        return f"{chars:,} characters > {DEFAULT_MAX_TRACE_CHARS:,}"
    if any(len(s.text) > DEFAULT_MAX_STEP_CHARS for s in trace):
        return f"a step of more than {DEFAULT_MAX_STEP_CHARS} characters"
    return None


def run(args) -> int:
    console = Console(soft_wrap=True)  # a summary or path stays on one line
    failed = False
    for path in args.paths:
        try:
            report = load_samples(
                path, skip_invalid=True, check=None if args.skip_videos else check_sample_video
            )
        except FileNotFoundError as e:
            console.print(f"[red]{escape(str(e))}")
            failed = True
            continue
        ok = not report.skipped
        failed |= not ok
        console.print(f"{'[green]ok' if ok else '[red]INVALID'}[/] {escape(f'{path}: {report.summary()}')}")
        for message in report.first_errors:
            console.print(f"  {message}", markup=False)
        long = [(s.id, why) for s in report.samples if (why := too_long(s.trace))]
        if long:
            console.print(
                f"  [yellow]warning[/]: {len(long)} reference trace(s) are longer than the reward reads from a model's "
                f"trace with preset=paper (first: {escape(long[0][0])}: {long[0][1]}); the default reward's caps follow the "
                "reference, or rebuild with `moss data build` (it condenses long traces)"
            )
    return 1 if failed else 0


def add_command(sub) -> None:
    p = sub.add_parser("validate", help="validate MOSS-Video JSONL/parquet files or folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--skip-videos", action="store_true", help="check the rows only, do not open the videos")
    p.set_defaults(func=run)
