"""The smaller faults of the second round: each is one line naming what is wrong (no traceback, no hang, no silent
empty result) or a documented behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples, mini_split_dir
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.segments import safe_id
from moss_plugins.reward import GroundTruthError, compute_score
from moss_plugins.testing.annotated_videos import write_annotated_videos

CAPTIONS = [[f"video {v} shows event {k} here" for k in range(5)] for v in range(3)]


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")


def one_line(capsys, *argv) -> str:
    """The one error line of a command that must fail with exit status 2."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2 and "Traceback" not in text, text[-2000:]
    lines = [line for line in captured.err.splitlines() if line.strip()] or [
        line for line in captured.out.splitlines() if "error" in line
    ]
    assert len(lines) == 1, text[-2000:]
    return lines[0]


# --- build ------------------------------------------------------------------------------------------------------


def test_a_video_that_is_a_symlink_loop_is_one_line(tmp_path, capsys):
    ann = write_annotated_videos(tmp_path / "src", CAPTIONS[:2])
    loop = tmp_path / "src" / "v0.mp4"
    loop.unlink()
    loop.symlink_to(loop)
    line = one_line(capsys, "data", "build", ann, "--out", tmp_path / "out")
    assert "v0.mp4" in line and "annotations.jsonl:1" in line


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_min_observed_must_be_a_finite_number_of_seconds(tmp_path, capsys, value):
    ann = write_annotated_videos(tmp_path / "src", CAPTIONS[:2])
    assert "min_observed" in one_line(
        capsys, "data", "build", ann, "--out", tmp_path / "out", f"--min-observed={value}"
    )
    assert not (tmp_path / "out").exists()


def test_non_ascii_ids_keep_apart(tmp_path):
    assert len({safe_id(i) for i in ["猫", "狗", "кошка", "ねこ", "video"]}) == 5
    ann = write_annotated_videos(tmp_path / "src", CAPTIONS, names=["猫", "狗", "кошка"])
    annotations = read_annotations(ann)
    assert [a.safe_id for a in annotations] == ["猫", "狗", "кошка"]


# --- synth ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--seed", "-1"],
        ["--n", "0"],
        ["--n", "-3"],
        ["--workers", "0"],
        ["--size", "100000x100000"],
        ["--fps", "100000"],
        ["--duration", "6:inf"],
        ["--duration", "6:1e9"],
        ["--split-ratio", "inf:0:1"],
        ["--seed", str(2**64)],
    ],
    ids=" ".join,
)
def test_synth_options_out_of_range_are_one_line(tmp_path, capsys, options):
    line = one_line(capsys, "data", "synth", "--n", "1", "--out", tmp_path / "out", *options)
    assert options[0].lstrip("-").replace("-", "_") in line.replace("-", "_") or options[0] in line
    assert not (tmp_path / "out" / "videos").exists() or not any((tmp_path / "out" / "videos").iterdir())


# --- the cache folder -------------------------------------------------------------------------------------------


def test_an_unusable_cache_folder_is_one_line_naming_the_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(
        "MOSS_PLUGINS_CACHE", str(blocker / "cache")
    )  # under a file: cannot be created (even as root)
    monkeypatch.delenv("MOSS_VIDEO_LMMS_DIR", raising=False)
    from moss_plugins.lmms_eval.dataset import DatasetError, default_data_dir

    with pytest.raises(DatasetError, match="MOSS_PLUGINS_CACHE"):
        default_data_dir()


def test_the_judge_names_an_unusable_cache_folder(tmp_path, monkeypatch):
    from moss_plugins.evaluation import judge

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MOSS_JUDGE_CACHE", str(blocker / "judge.sqlite"))
    monkeypatch.setenv("OPENAI_API_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(judge.JudgeConfigError, match="MOSS_JUDGE_CACHE"):
        judge.default_judge()


# --- a FIFO where a data file is expected -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "export"])
def test_a_fifo_named_like_a_split_file_is_refused_not_read(tmp_path, command):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text((mini_split_dir() / "test.jsonl").read_text().splitlines()[0] + "\n")
    os.mkfifo(data / "test.jsonl")
    argv = {
        "validate": ["data", "validate", data],
        "export": ["data", "export", "--format", "verl", "--in", data, "--out", tmp_path / "out"],
    }[command]
    done = subprocess.run(
        [sys.executable, "-m", "moss_plugins.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert (
        done.returncode == 2 and "test.jsonl" in done.stderr + done.stdout and "Traceback" not in done.stderr
    )


# --- what one reference may cost ----------------------------------------------------------------------------------


def test_a_reference_too_long_to_score_is_refused_naming_the_field():
    truth = {
        "answer": "A",
        "options": ["x", "y"],
        "trace": [f"event number {k} happens" for k in range(2000)],
    }
    with pytest.raises(GroundTruthError, match=r"ground_truth\.trace.*2000 steps"):
        compute_score(None, "<think>Step 1: x.</think><answer>A</answer>", truth)
    truth = {"answer": "A", "options": ["x", "y"], "trace": ["a long step " * 20_000]}
    with pytest.raises(GroundTruthError, match=r"ground_truth\.trace.*characters"):
        compute_score(None, "<think>Step 1: x.</think><answer>A</answer>", truth)


def test_the_mini_split_is_within_the_reference_ceiling():
    for sample in load_samples(mini_split_dir()).samples:
        compute_score(None, "", sample.ground_truth())


# --- numba's cache ------------------------------------------------------------------------------------------------


def test_the_jit_cache_goes_to_the_user_cache_when_the_package_folder_is_read_only(tmp_path, monkeypatch):
    from moss_plugins import env

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("MOSS_PLUGINS_CACHE", str(tmp_path / "cache"))
    package = Path(env.__file__).parent / "reward"
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != package)
    assert env.jit_cache_dir(package) == tmp_path / "cache" / "numba"
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: True)
    assert env.jit_cache_dir(package) is None  # a writable package folder keeps numba's own choice
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert env.jit_cache_dir(package) is None  # and so does the user's own setting


def test_importing_the_reward_from_a_read_only_package_writes_no_jit_cache_into_it(tmp_path):
    """A copy of the package whose reward folder cannot be written (a file system that refuses writes even to
    root is simulated by os.access): scoring compiles, and the JIT cache lands in MOSS_PLUGINS_CACHE/numba."""
    import shutil

    root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "pkg"
    shutil.copytree(
        root / "moss_plugins", copy / "moss_plugins", ignore=shutil.ignore_patterns("__pycache__", "mini")
    )
    reward = copy / "moss_plugins" / "reward"
    script = (
        f"import os; real = os.access; os.access = lambda p, m, **k: False if os.fspath(p) == {str(reward)!r} "
        "else real(p, m, **k)\n"
        "from moss_plugins.reward import compute_score\n"
        "print(compute_score(None, '<think>Step 1: x.</think><answer>A</answer>', "
        "{'answer': 'A', 'trace': ['x']})['score'])"
    )
    env = {**os.environ, "PYTHONPATH": str(copy), "MOSS_PLUGINS_CACHE": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not list(reward.rglob("*.nbi")), "numba wrote its cache into the package"
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi"))


# --- found by the fuzz (test_fuzz.py) ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [[], {}, [1, 2], {"a": 1}])
def test_a_preset_that_is_not_a_name_is_a_config_error(value):
    from moss_plugins.reward import ConfigError
    from moss_plugins.reward.config import resolve_config

    with pytest.raises(ConfigError, match="preset"):
        resolve_config(preset=value)


@pytest.mark.parametrize("trace", [1, None, 2.5, True, "steps"])
def test_a_parquet_row_whose_trace_is_not_a_list_is_a_validation_error(trace):
    from moss_plugins.sample import ValidationError, from_row

    with pytest.raises(ValidationError, match="trace"):
        from_row(
            {
                "id": "x",
                "trace": trace,
                "video": "v.mp4",
                "question": "q",
                "options": ["a", "b"],
                "answer": "A",
                "task_type": "next_state",
                "observed_until": 1.0,
                "split": "test",
                "source": "s",
            },
            "parquet",
        )
