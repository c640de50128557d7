"""Frames/s of ``moss_plugins.data.video.load_frames`` vs ``qwen_vl_utils.fetch_video`` on the same clips.

    .venv/bin/python benchmarks/video_loading.py [--repeat 5]

Both read the same number of frames at the same pixel cap from the same files (a 360p and a 720p clip at
30 fps written here with the synthetic scenes' ``write_mp4``, and a bundled mini-split clip; 8 or 16 frames,
the whole clip or cut halfway); qwen-vl-utils uses decord, as verl's rollout does
by default. ``load_frames`` is timed through its decoding helper process (the default, which a hanging file
cannot stall) and in-process (``timeout=None``), with decord and with PyAV. The helper process starts once
per thread; that start is reported on its own and not in the rates. Prints one table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")


def write_clip(path: Path, width: int, height: int, fps: int, seconds: float) -> Path:
    """A moving gradient with a few moving boxes: cheap to make, not trivial to encode."""
    from moss_plugins.data.synth.render import write_mp4

    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((int(seconds * fps), height, width, 3), np.uint8)
    for k, frame in enumerate(frames):
        frame[..., 0] = (xx + 3 * k) % 256
        frame[..., 1] = (yy + 2 * k) % 256
        frame[..., 2] = (xx + yy + k) % 256
        for j in range(4):
            x = (40 * j + 7 * k) % (width - 40)
            frame[height // 3 : height // 3 + 40, x : x + 40] = (255 * (j % 2), 200, 50 * j)
    write_mp4(frames, path, fps)
    return path


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from qwen_vl_utils import fetch_video
    from rich.console import Console
    from rich.table import Table

    from moss_plugins.data import mini_split_dir
    from moss_plugins.data.video import load_frames

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    console = Console(width=170)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with console.status("writing benchmark clips"):
            clips = {
                "360p 30fps 12s": write_clip(tmp / "360p.mp4", 640, 360, 30, 12),
                "720p 30fps 6s": write_clip(tmp / "720p.mp4", 1280, 720, 30, 6),
                "mini 112px 4fps": next((mini_split_dir() / "videos").glob("*.mp4")),
            }
        start = time.perf_counter()
        load_frames(clips["mini 112px 4fps"], nframes=2)
        console.print(f"decoding helper process start: {time.perf_counter() - start:.2f} s (once per thread)")

        table = Table(
            title=f"frames/s, median of {args.repeat} (ratio = load_frames / fetch_video)",
            title_justify="left",
        )
        columns = [
            "clip",
            "frames",
            "pixel cap",
            "cut",
            "fetch_video (decord)",
            "load_frames decord",
            "decord in-process",
            "pyav",
            "pyav in-process",
        ]
        for col in columns:
            table.add_column(col, justify="left" if col == "clip" else "right")
        for name, path in clips.items():
            for nframes, max_pixels, cut in (
                (8, 448 * 448, None),
                (16, 448 * 448, None),
                (16, 448 * 448, 0.5),
            ):
                duration = load_frames(path, nframes=2).duration
                until = None if cut is None else cut * duration
                element = {
                    "video": str(path),
                    "nframes": nframes,
                    "max_pixels": max_pixels,
                    "min_pixels": 28 * 28,
                }
                if until is not None:
                    element["video_end"] = until
                qwen = nframes / timed(lambda: fetch_video(element), args.repeat)
                row = [
                    name,
                    str(nframes),
                    f"{max_pixels // 1000}k",
                    "-" if cut is None else f"{cut:.0%}",
                    f"{qwen:.0f}",
                ]
                for backend, timeout in (("decord", 60.0), ("decord", None), ("pyav", 60.0), ("pyav", None)):
                    ours = nframes / timed(
                        lambda: load_frames(
                            path,
                            nframes=nframes,
                            max_pixels=max_pixels,
                            until=until,
                            backend=backend,
                            timeout=timeout,
                        ),
                        args.repeat,
                    )
                    row.append(f"{ours:.0f} ({ours / qwen:.2f}x)")
                table.add_row(*row)
        console.print(table)


if __name__ == "__main__":
    main()
