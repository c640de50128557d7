"""``moss data validate``: check MOSS-Video files and report every problem with its file, line and field.

Also opens every video (:func:`moss_plugins.data.video_check.check_video`, the check verl's and lmms-eval's
loaders run at start-up): exists, decodes, has frames before the sample's cut, sane size and aspect ratio.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .io import load_samples
from .schema import Sample


def check_sample_video(sample: Sample, root: Path) -> None:
    """The shared video check for one sample; ``video`` is relative to the folder of its JSONL file."""
    from .video_check import check_video

    check_video(root / sample.video, sample.observed_until)


def run(args) -> int:
    console = Console(soft_wrap=True)  # a summary or path stays on one line
    failed = False
    for path in args.paths:
        try:
            report = load_samples(path, skip_invalid=True, check=None if args.skip_videos else check_sample_video)
        except FileNotFoundError as e:
            console.print(f"[red]{escape(str(e))}")
            failed = True
            continue
        ok = not report.skipped
        failed |= not ok
        console.print(f"{'[green]ok' if ok else '[red]INVALID'}[/] {escape(f'{path}: {report.summary()}')}")
        for message in report.first_errors:
            console.print(f"  {message}", markup=False)
    return 1 if failed else 0


def add_command(sub) -> None:
    p = sub.add_parser("validate", help="validate MOSS-Video JSONL/parquet files or folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--skip-videos", action="store_true", help="check the rows only, do not open the videos")
    p.set_defaults(func=run)
