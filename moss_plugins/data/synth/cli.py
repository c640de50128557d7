"""``moss data synth``: render a synthetic MOSS-Video set (videos, per-frame states, train/val/test JSONL)."""

from __future__ import annotations

import argparse

from ...sample import SPLITS, TASK_TYPES
from . import constants as C


def _pair(text: str, kind: type, sep: str) -> tuple:
    try:
        a, b = (kind(p) for p in text.split(sep))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers separated by {sep!r}, got {text!r}") from None
    return a, b


def _ratio(text: str) -> dict[str, float]:
    try:
        values = [float(v) for v in text.split(":")]
    except ValueError:
        values = []
    if len(values) != len(SPLITS) or min(values, default=-1) < 0 or not sum(values):
        raise argparse.ArgumentTypeError(
            f"expected TRAIN:VAL:TEST weights >= 0 (e.g. 0.8:0:0.2), got {text!r}"
        )
    return dict(zip(SPLITS, values))


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    from .generate import SynthConfig, generate

    config = SynthConfig(
        fps=args.fps,
        size=args.size,
        duration=args.duration,
        tasks_per_video=args.tasks_per_video,
        split_ratio=args.split_ratio,
    )
    result = generate(args.n, args.seed, args.out, config, workers=args.workers)
    console = Console(soft_wrap=True)  # paths stay on one line
    counts = ", ".join(f"{split} {n}" for split, n in result["counts"].items())
    console.print(
        f"[green]wrote[/] {args.n} videos and {sum(result['counts'].values())} samples ({counts}) to "
        f"{escape(str(args.out))} in {result['seconds']:.1f} s: {result['videos_per_s']:.1f} videos/s"
    )
    for split, path in result["files"].items():
        console.print(f"  {split}: {path}", markup=False)
    return 0


def add_command(sub) -> None:
    from .generate import SynthConfig  # already imported with this package

    ratio = ":".join(f"{SynthConfig().split_ratio.get(s, 0):g}" for s in SPLITS)
    p = sub.add_parser(
        "synth",
        help="render synthetic dynamic-state videos with exact ground truth",
        description="Render N procedurally generated videos (six scene kinds in turn) and ask "
        "TASKS_PER_VIDEO temporal-reasoning questions about each, each with its own cut. Same seed, "
        "same bytes.",
    )
    p.add_argument("--n", type=int, required=True, help="number of videos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (train.jsonl, test.jsonl, videos/)")
    p.add_argument(
        "--split-ratio",
        type=_ratio,
        default=ratio,
        metavar="TRAIN:VAL:TEST",
        help="share of the videos per split (default %(default)s)",
    )
    p.add_argument(
        "--tasks-per-video",
        type=int,
        default=len(TASK_TYPES),
        metavar="K",
        help=f"questions per video, each of a different task type (1-{len(TASK_TYPES)}, default all)",
    )
    p.add_argument("--fps", type=int, default=C.DEFAULT_FPS)
    p.add_argument(
        "--size",
        type=lambda t: _pair(t, int, "x"),
        default=C.DEFAULT_SIZE,
        metavar="WxH",
        help="frame size (default %(default)s)",
    )
    p.add_argument(
        "--duration",
        type=lambda t: _pair(t, float, ":"),
        default=C.DEFAULT_DURATION,
        metavar="LO:HI",
        help="video length range in seconds (default %(default)s)",
    )
    p.add_argument("--workers", type=int, default=1, help="render in this many processes")
    p.set_defaults(func=run)
