"""``moss data validate``: check MOSS-Video files and report every problem with its file, line and field."""

from __future__ import annotations

from rich.console import Console

from ..reward.segment import DEFAULT_MAX_STEP_CHARS, DEFAULT_MAX_STEPS, DEFAULT_MAX_TRACE_CHARS
from .io import load_samples


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
    console = Console()
    failed = False
    for path in args.paths:
        try:
            report = load_samples(path, skip_invalid=True)
        except FileNotFoundError as e:
            console.print(f"[red]{e}")
            failed = True
            continue
        ok = not report.skipped
        failed |= not ok
        console.print(f"{'[green]ok' if ok else '[red]INVALID'}[/] {path}: {report.summary()}")
        for message in report.first_errors:
            console.print(f"  {message}")
        long = [(s.id, why) for s in report.samples if (why := too_long(s.trace))]
        if long:
            console.print(
                f"  [yellow]warning[/]: {len(long)} reference trace(s) are longer than the reward reads from a model's "
                f"trace with preset=paper (first: {long[0][0]}: {long[0][1]}); the default reward's caps follow the "
                "reference, or rebuild with `moss data build` (it condenses long traces)"
            )
    return 1 if failed else 0


def add_command(sub) -> None:
    p = sub.add_parser("validate", help="validate MOSS-Video JSONL/parquet files or folders")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=run)
