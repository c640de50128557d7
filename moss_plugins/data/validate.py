"""``moss data validate``: check MOSS-Video files and report every problem with its file, line and field."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from .io import load_samples


def run(args) -> int:
    console = Console(soft_wrap=True)  # a summary or path stays on one line
    failed = False
    for path in args.paths:
        try:
            report = load_samples(path, skip_invalid=True)
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
    p.set_defaults(func=run)
