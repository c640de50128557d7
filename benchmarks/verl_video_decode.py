"""Video decoding in verl's rollout: verl's RLHFDataset (qwen-vl-utils) vs MossVideoDataset, side by side.

    python benchmarks/verl_video_decode.py [--groups 4] [--n 8] [--seconds 20] [--width 640 --height 360 --fps 30]

verl 0.9 decodes in the rollout: each of the n agent loops of a GRPO group calls the dataset class's
``process_multi_modal_info`` on the same messages, all at once (AgentLoopWorkerTQ._run_prompt). This replays
that call pattern for ``--groups`` groups (each its own video, cut at a frame boundary as `moss data build`
cuts) with the same caps for both (2 fps, at most 32 frames, 128 x 28 x 28 pixels) and reports decodes per
group, wall time, and frames at or after the cut that reach the processor.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

CAPS = {"fps": 2.0, "max_frames": 32, "max_pixels": 128 * 28 * 28, "min_pixels": 16 * 28 * 28}


def write_videos(root: Path, groups: int, seconds: float, width: int, height: int, fps: int) -> list[Path]:
    from moss_plugins.data.synth.render import write_mp4

    paths = []
    for g in range(groups):
        k = np.arange(int(seconds * fps))[:, None, None, None]
        frames = np.broadcast_to((k * 3 + g * 40) % 256, (len(k), height, width, 3)).astype(np.uint8)
        paths.append(root / f"v{g}.mp4")
        write_mp4(frames, paths[-1], fps)
    return paths


def messages(path: Path, cut: float) -> list[dict]:
    video = {"type": "video", "video": str(path), "video_start": 0.0, "video_end": cut, **CAPS}
    return [{"role": "user", "content": [video, {"type": "text", "text": "What happens next?"}]}]


def replay(dataset_cls, config, paths, cut: float, n: int):
    async def group(path):
        return await asyncio.gather(
            *(dataset_cls.process_multi_modal_info(messages(path, cut), 14, config) for _ in range(n))
        )

    async def all_groups():
        return await asyncio.gather(*(group(p) for p in paths))

    start = time.perf_counter()
    results = asyncio.run(all_groups())
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--n", type=int, default=8, help="rollouts per group (rollout.n)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()

    import qwen_vl_utils.vision_process as qvp
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    import moss_plugins.data.video as video_module
    from moss_plugins.verl.dataset import MossVideoDataset
    from moss_plugins.verl.frames import CACHE

    console = Console(width=120)
    cut = round(0.6 * args.seconds * args.fps) / args.fps  # a frame boundary: the frame at the cut is masked
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_videos(Path(tmp), args.groups, args.seconds, args.width, args.height, args.fps)

        calls = {"verl": 0, "moss": 0}
        backend = qvp.get_video_reader_backend()
        reader = qvp.VIDEO_READER_BACKENDS[backend]

        def counted_reader(ele):
            calls["verl"] += 1
            return reader(ele)

        qvp.VIDEO_READER_BACKENDS[backend] = counted_reader
        load_frames = video_module.load_frames

        def counted_load(*a, **kw):
            calls["moss"] += 1
            return load_frames(*a, **kw)

        video_module.load_frames = counted_load

        config = OmegaConf.create(
            {"moss_video": {k: CAPS[k] for k in ("fps", "max_frames", "max_pixels", "min_pixels")}}
        )
        rows = []
        for name, cls in (
            ("verl RLHFDataset (qwen-vl-utils)", RLHFDataset),
            ("MossVideoDataset", MossVideoDataset),
        ):
            CACHE.clear()
            key = "verl" if cls is RLHFDataset else "moss"
            results, seconds = replay(cls, config, paths, cut, args.n)
            (frames, meta) = results[0][0][1][0]
            late = sum(i / meta["fps"] >= cut - 1e-9 for i in meta["frames_indices"])
            rows.append((name, calls[key] / args.groups, seconds, tuple(frames.shape), late))

    table = Table(
        title=f"{args.groups} GRPO groups x n={args.n} rollouts, {args.width}x{args.height} @ {args.fps} fps, "
        f"{args.seconds:g} s videos cut at {cut:g} s ({backend} for qwen-vl-utils)"
    )
    for column in (
        "dataset class",
        "decodes / group",
        "wall s",
        "frames (T, C, H, W)",
        "frames at/after cut",
    ):
        table.add_column(column, justify="left" if column == "dataset class" else "right")
    for name, per_group, seconds, shape, late in rows:
        table.add_row(name, f"{per_group:.1f}", f"{seconds:.2f}", str(shape), str(late))
    console.print(table)
    console.print(
        f"decodes per group: {rows[0][1] / rows[1][1]:.1f}x fewer, wall time {rows[0][2] / rows[1][2]:.1f}x "
        "faster with MossVideoDataset"
    )


if __name__ == "__main__":
    main()
