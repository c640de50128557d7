"""The per-video work on a local Ray with 2 CPUs: same results as in-process, in input order, with progress.

One Ray session (``ray_local`` in tests/conftest.py) serves the whole test session (starting Ray costs seconds);
``run_map`` reuses a running session.
"""

from __future__ import annotations

import os

import pytest

from moss_plugins.cli import main
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, build_dataset
from moss_plugins.data.parallel import RayOptions, run_map


def square_with_pid():
    """A function Ray workers receive by value (a closure: they cannot import test modules)."""

    def fn(item: int, shared: dict) -> tuple[int, int]:
        return item * item + shared["offset"], os.getpid()

    return fn


@pytest.mark.slow  # starting Ray (the test session's, if first) takes 5-20 s on a 2-core machine
def test_run_map_on_ray_returns_input_order_from_workers(ray_local, capsys):
    items = list(range(23))
    results = run_map(square_with_pid(), items, {"offset": 1}, RayOptions(chunk_size=3), desc="squares")
    assert [r for r, _ in results] == [k * k + 1 for k in items]
    assert os.getpid() not in {pid for _, pid in results}  # it ran in Ray workers, not here
    err = capsys.readouterr().err  # the bar moves as chunks finish and ends full
    assert "squares: 100%" in err and "23/23" in err
    assert ray_local.is_initialized()  # a session it did not start is left running


def test_in_process_runs_the_same_function(capsys):
    results = run_map(square_with_pid(), [3, 1, 2], {"offset": 0}, ray=None, desc="squares")
    assert results == [(9, os.getpid()), (1, os.getpid()), (4, os.getpid())]
    assert "3/3" in capsys.readouterr().err


def test_build_on_ray_equals_in_process(ray_local, tmp_path):
    from test_build import write_annotated

    annotations = read_annotations(write_annotated(tmp_path / "src", 10, n_segments=5))
    config = BuildConfig(seed=5, cut_clips=True)
    local = build_dataset(annotations, tmp_path / "local", config)
    on_ray = build_dataset(annotations, tmp_path / "ray", config, ray=RayOptions(num_cpus=2, chunk_size=2))
    assert on_ray.samples == local.samples and sum(local.samples.values()) > 0
    for split in ("train", "test"):
        assert (tmp_path / "ray" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "local" / f"{split}.jsonl"
        ).read_bytes()
    clips = sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray" / "clips").rglob("*.mp4"))
    assert clips == sorted(
        p.relative_to(tmp_path / "local") for p in (tmp_path / "local" / "clips").rglob("*.mp4")
    )


def test_cli_build_with_ray(ray_local, tmp_path, capsys):
    from test_build import write_annotated

    src = write_annotated(tmp_path / "src", 4)
    assert (
        main(["data", "build", str(src), "--out", str(tmp_path / "out"), "--ray", "--chunk-size", "1"]) == 0
    )
    captured = capsys.readouterr()
    assert "per-video work on Ray (local)" in captured.out and "4/4" in captured.err
    assert main(["data", "validate", str(tmp_path / "out")]) == 0
