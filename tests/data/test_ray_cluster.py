"""``moss data build --ray --address`` on a real two-node Ray cluster (a head and a worker node started with
``ray start`` on this machine, token authentication on): tasks run on both nodes and the output is byte for byte
the in-process build's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_build import write_annotated

from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, build_dataset

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("ray")


@pytest.fixture(scope="module")
def two_nodes():
    from moss_plugins.testing.ray_cluster import local_cluster

    # The nodes' workers import this checkout's moss_plugins, as a cluster's workers import the installed one.
    with local_cluster(workers=1, env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}) as cluster:
        yield cluster


@pytest.mark.slow  # ~50 s: two nodes start (once per module) and stop, and their workers import the builder
def test_build_on_two_nodes_runs_on_both_and_equals_the_in_process_build(two_nodes, tmp_path):
    src = write_annotated(tmp_path / "src", 8, n_segments=5)
    build_dataset(read_annotations(src), tmp_path / "local", BuildConfig(seed=2, cut_clips=True))
    cmd = [
        str(Path(sys.executable).parent / "moss"),
        "data",
        "build",
        str(src),
        "--out",
        str(tmp_path / "ray"),
        "--seed",
        "2",
        "--cut-clips",
        "--ray",
        "--address",
        two_nodes.address,
        "--chunk-size",
        "1",
    ]
    run = subprocess.run(cmd, env=two_nodes.env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"per-video work on Ray ({two_nodes.address})" in run.stdout
    for name in ("train.jsonl", "test.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    clips = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local" / "clips").rglob("*.mp4"))
    assert clips and clips == sorted(
        p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray" / "clips").rglob("*.mp4")
    )
    for clip in clips:  # the same encoder on the same frames, whichever node ran it
        assert (tmp_path / "ray" / clip).read_bytes() == (tmp_path / "local" / clip).read_bytes(), clip
    runs = [node.task_runs("_run_chunk") for node in two_nodes.nodes]
    for _ in range(10):  # workers flush their logs on their own schedule
        if sum(runs) == 8:
            break
        time.sleep(0.5)
        runs = [node.task_runs("_run_chunk") for node in two_nodes.nodes]
    assert sum(runs) == 8 and min(runs) >= 1, f"chunks run per node (head, worker): {runs}"


@pytest.mark.slow  # ~25 s: Ray retries for 20 s before it gives up on a refused driver
@pytest.mark.parametrize("drop", ["RAY_AUTH_TOKEN", "RAY_AUTH_MODE"])
def test_a_driver_without_the_token_or_the_token_mode_is_refused(two_nodes, tmp_path, drop):
    """Token authentication is really on, and a driver given an explicit address needs RAY_AUTH_MODE=token as
    well as the token: Ray switches token mode on by itself only for a head it starts or finds locally."""
    env = {k: v for k, v in two_nodes.env.items() if k != drop}
    code = f"import ray\nray.init(address={two_nodes.address!r})\nprint('connected', ray.cluster_resources())"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "connected" not in run.stdout, run.stdout[-2000:]
    assert "InvalidAuthToken" in run.stderr or "token" in run.stderr.lower(), run.stderr[-2000:]
    if drop == "RAY_AUTH_MODE":  # the hand trial's error: the token was there, the mode was not
        assert "InvalidAuthToken" in run.stderr and "RAY_AUTH_MODE is currently 'disabled'" in run.stderr
