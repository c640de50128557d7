"""Seconds to make the moss_video clips of one long video: the old way against the current one.

    .venv/bin/python benchmarks/lmms_clip_cutting.py [--seconds 120] [--width 1280 --height 720] [--questions 8]

One video (a moving gradient, H.264 with B-frames, written with the synthetic scenes' ``write_mp4``) and
``--questions`` cuts spread over it, half on a frame and half between two. "before": what the lmms-eval loader
did until now, for every doc when the task loads: decode from 0 s and re-encode at full resolution
(``cut_clips`` with no size cap). "now": :func:`moss_plugins.data.clips.cut_observed`, as the task's
``doc_to_visual`` calls it for the docs a run actually evaluates (all of them here; with ``--limit 1``, one):
stream copy when a prefix of the packets holds exactly the frames before the cut, else re-encode at most at
``MOSS_VIDEO_CLIP_MAX_PIXELS`` (default 602,112 pixels). Prints one table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from video_loading import write_clip


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from moss_plugins.data.clips import cut_clips, cut_observed, probe_video
    from moss_plugins.lmms_eval.dataset import DEFAULT_CLIP_PIXELS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--questions", type=int, default=8)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        src = write_clip(tmp / "long.mp4", args.width, args.height, args.fps, args.seconds)
        print(
            f"wrote a {args.seconds:g} s {args.width}x{args.height} video in {time.perf_counter() - t0:.1f} s"
        )
        duration = probe_video(src).duration
        cuts = []
        for q in range(args.questions):
            frame = round((q + 1) / (args.questions + 1) * duration * args.fps)
            cuts.append((frame + (0.5 if q % 2 else 0.0)) / args.fps)
        rows = []
        for name, cut in (
            ("before", lambda c, dst: ("encoded", cut_clips(src, {c: dst})[c])),
            ("now", lambda c, dst: cut_observed(src, c, dst, max_pixels=DEFAULT_CLIP_PIXELS)),
        ):
            per, hows, size = [], [], 0
            for k, c in enumerate(cuts):
                dst = tmp / f"{name}-{k}.mp4"
                t0 = time.perf_counter()
                how, _ = cut(c, dst)
                per.append(time.perf_counter() - t0)
                hows.append(how)
                size += dst.stat().st_size
            rows.append((name, sum(per), max(per), per[0], hows, size))
    table = Table(
        title=f"clips of a {args.seconds:g} s {args.width}x{args.height} {args.fps} fps video, "
        f"{args.questions} questions",
        title_justify="left",
    )
    for column in (
        "strategy",
        "all docs (s)",
        "slowest doc (s)",
        "--limit 1 (s)",
        "copied / encoded",
        "clips (MB)",
    ):
        table.add_column(column, justify="right" if column != "strategy" else "left")
    for name, total, slowest, first, hows, size in rows:
        limit1 = total if name == "before" else first  # before: every doc was cut when the task loaded
        table.add_row(
            name,
            f"{total:.1f}",
            f"{slowest:.1f}",
            f"{limit1:.1f}",
            f"{hows.count('copied')} / {hows.count('encoded')}",
            f"{size / 1e6:.1f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
