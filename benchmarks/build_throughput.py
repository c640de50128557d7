"""``moss data build`` throughput: in-process against a local Ray and against a two-node Ray cluster on this
machine (a head and a worker started with ``ray start``, 1 CPU each, token authentication on;
``moss_plugins.testing.ray_cluster``), on the same few hundred tiny videos.

    python benchmarks/build_throughput.py [--videos 300] [--num-cpus 2] [--chunk-size 8] [--cut-clips]

Videos are 32x32, 8 fps, 5-6 one-second segments (``moss_plugins.testing.annotated_videos``), so the numbers show
the per-video overhead of probing, sample writing and (with --cut-clips) re-encoding, not decoding cost of
real videos; Ray's session or cluster start is timed apart from the build.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, build_dataset
from moss_plugins.data.parallel import RayOptions
from moss_plugins.testing.annotated_videos import STORIES, write_annotated_videos
from moss_plugins.testing.ray_cluster import local_cluster

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=8)
    parser.add_argument("--cut-clips", action="store_true")
    args = parser.parse_args()
    console = Console(width=110)
    stories = list(STORIES.values())
    captions = [[f"{c} (take {i})" for c in stories[i % len(stories)]] for i in range(args.videos)]
    config = BuildConfig(cut_clips=args.cut_clips)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        annotations = read_annotations(write_annotated_videos(Path(tmp) / "src", captions))
        console.print(f"wrote {args.videos} annotated videos in {time.perf_counter() - start:.1f} s")
        rows = []
        start = time.perf_counter()
        report = build_dataset(annotations, Path(tmp) / "local", config)
        rows.append(("in-process", time.perf_counter() - start, sum(report.samples.values()), 0.0))
        # This driver joins the cluster with its token and mode, which ray reads when it is imported; the cluster's
        # workers import this checkout.
        token = secrets.token_hex(32)
        os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
        import ray

        same = []
        start = time.perf_counter()
        with local_cluster(workers=1, env={"PYTHONPATH": str(ROOT)}, token=token) as cluster:
            ray.init(address=cluster.address, logging_level="warning")
            startup = time.perf_counter() - start
            options = RayOptions(address=cluster.address, chunk_size=args.chunk_size)
            rows += _ray_runs(annotations, Path(tmp) / "cluster", config, options, "2 nodes x 1 CPU", startup)
            same.append(_same(Path(tmp) / "cluster", Path(tmp) / "local"))
            ray.shutdown()
        start = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="warning")
        startup = time.perf_counter() - start
        options = RayOptions(num_cpus=args.num_cpus, chunk_size=args.chunk_size)
        rows += _ray_runs(annotations, Path(tmp) / "ray", config, options, f"{args.num_cpus} CPUs", startup)
        same.append(_same(Path(tmp) / "ray", Path(tmp) / "local"))
        ray.shutdown()
    table = Table(
        title=f"moss data build, {args.videos} tiny videos{' + cut clips' if args.cut_clips else ''}"
    )
    for col in ("mode", "build s", "samples", "samples/s", "videos/s", "vs in-process", "Ray start s"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    base = rows[0][1]
    for mode, seconds, n, start_s in rows:
        table.add_row(
            mode,
            f"{seconds:.2f}",
            str(n),
            f"{n / seconds:.0f}",
            f"{args.videos / seconds:.0f}",
            f"{base / seconds:.2f}x",
            f"{start_s:.1f}" if start_s else "-",
        )
    console.print(table)
    console.print(f"Ray output identical to in-process (two nodes, local): {same}")


def _ray_runs(
    annotations, out: Path, config: BuildConfig, options: RayOptions, what: str, startup: float
) -> list:
    rows = []
    for label in ("Ray cold", "Ray warm"):  # the first run also starts the worker processes
        start = time.perf_counter()
        report = build_dataset(annotations, out, config, ray=options)
        rows.append((f"{label} ({what})", time.perf_counter() - start, sum(report.samples.values()), startup))
    return rows


def _same(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("train.jsonl", "test.jsonl"))


if __name__ == "__main__":
    main()
