"""``moss data export``: MOSS-Video samples as verl RLHFDataset parquet or as an lmms-eval task folder.

The command sits above the adapters because each framework owns its row format
(:mod:`moss_plugins.verl.rows`, :mod:`moss_plugins.lmms_eval.rows`); both only need the data layer, not verl
or lmms-eval.
"""

from __future__ import annotations

from .sample import SPLITS


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console(soft_wrap=True)  # paths stay on one line
    if args.format == "verl":
        from .verl.rows import export_verl

        result = export_verl(args.input, args.out, args.split, args.skip_invalid, progress=True)
    else:
        from .lmms_eval.rows import export_lmms

        result = export_lmms(
            args.input, args.out, args.split, args.skip_invalid, link=args.symlink, progress=True
        )
    console.print(f"read {args.input}: {result.loaded.summary()}", markup=False)
    for message in result.loaded.first_errors:
        console.print(f"  [yellow]skipped[/] {escape(message)}")
    for name, path in result.files.items():
        console.print(f"[green]wrote[/] {escape(f'{name}: {path}')}")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser(
        "export", help="write MOSS-Video samples for verl (parquet) or lmms-eval (a task folder)"
    )
    p.add_argument("--format", choices=("verl", "lmms"), required=True)
    p.add_argument(
        "--in",
        dest="input",
        required=True,
        metavar="DIR_OR_FILE",
        help="a MOSS-Video JSONL/parquet file or a folder of them (videos relative to it)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="verl: a .parquet file, or a folder for <split>.parquet files; lmms: a folder",
    )
    p.add_argument("--split", choices=SPLITS, help="export only this split")
    p.add_argument(
        "--skip-invalid", action="store_true", help="skip invalid rows (counted) instead of stopping"
    )
    p.add_argument("--symlink", action="store_true", help="lmms: symlink the videos instead of copying them")
    p.set_defaults(func=run)
