"""The recipes: `--check` passes on CPU for both, run.sh launches what it says, bad settings are caught."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from moss_plugins.data import mini_split_dir
from moss_plugins.data.export import export_verl
from moss_plugins.verl.check import CheckFailed, check_dataset, run_check, unknown_keys

RECIPES = Path(__file__).parents[2] / "recipes"
FAMILIES = {"qwen2_5_vl_7b_moss_dtw": "qwen2_5_vl", "phi2_moss_dtw": "phi2"}


@pytest.mark.parametrize("recipe", FAMILIES)
def test_check_passes_on_cpu(recipe):
    # What `run.sh --check` runs (test_run_sh_* shows the wiring), in this process: verl is imported already.
    console = Console(record=True, width=120)
    run_check(RECIPES / recipe, FAMILIES[recipe], [], console)
    report = console.export_text()
    assert "check passed" in report and "MossDTWRewardManager.run_single" in report


@pytest.fixture
def python_stub(tmp_path):
    """A $PYTHON that prints what it was asked to run (and the Ray address it would join)."""
    stub = tmp_path / "python"
    stub.write_text('#!/bin/sh\necho "RAY_ADDRESS=${RAY_ADDRESS:-}" "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return stub


def _run_sh(recipe, stub, *args, **env):
    env = {**os.environ, "PYTHON": str(stub), **env}
    env.pop("RAY_ADDRESS", None) if "RAY_ADDRESS" not in env else None
    out = subprocess.run(
        [RECIPES / recipe / "run.sh", *args], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize("recipe", FAMILIES)
def test_run_sh_check_runs_the_check_for_the_recipes_family(recipe, python_stub):
    argv = _run_sh(recipe, python_stub, "--check", "trainer.n_gpus_per_node=4")
    assert argv == ["RAY_ADDRESS=", "-m", "moss_plugins.verl.check", str(RECIPES / recipe), "--family",
                    FAMILIES[recipe], "trainer.n_gpus_per_node=4"]  # fmt: skip


@pytest.mark.slow
def test_run_sh_check_takes_own_data_and_overrides_on_the_real_command_line(tmp_path):
    # The real launcher and the real python (not a stub): MOSS_DATA adds data.* overrides before the user's.
    data = export_verl(mini_split_dir(), tmp_path / "verl").files
    env = {**os.environ, "PYTHON": sys.executable, "MOSS_DATA": str(data["train"].parent)}
    out = subprocess.run([RECIPES / "phi2_moss_dtw" / "run.sh", "--check", "trainer.n_gpus_per_node=4"],
                         capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "check passed" in out.stdout and "the bundled mini split, exported" not in out.stdout


def test_run_sh_trains_with_the_recipe_config_on_one_node_or_joins_a_ray_cluster(python_stub, tmp_path):
    one = _run_sh("qwen2_5_vl_7b_moss_dtw", python_stub, "trainer.total_epochs=1", MOSS_DATA=str(tmp_path))
    assert one == ["RAY_ADDRESS=", "-m", "verl.trainer.main_ppo", "--config-path", str(RECIPES / "qwen2_5_vl_7b_moss_dtw"),
                   "--config-name", "config", f"data.train_files={tmp_path}/train.parquet",
                   f"data.val_files={tmp_path}/test.parquet", "trainer.nnodes=1", "trainer.total_epochs=1"]  # fmt: skip
    many = _run_sh("phi2_moss_dtw", python_stub, MOSS_DATA=str(tmp_path), NNODES="3")
    assert many[0] == "RAY_ADDRESS=auto" and "trainer.nnodes=3" in many


def test_training_without_data_says_what_to_do(python_stub):
    env = {k: v for k, v in os.environ.items() if k != "MOSS_DATA"}
    out = subprocess.run([RECIPES / "phi2_moss_dtw" / "run.sh"], capture_output=True, text=True,
                         env={**env, "PYTHON": str(python_stub)}, check=False)  # fmt: skip
    assert out.returncode != 0 and "moss data export --format verl" in out.stderr


def test_keys_verl_does_not_have_are_found():
    schema = {
        "data": {"max_prompt_length": 1, "moss_video": {"fps": 2}},
        "rollout": {"engine_kwargs": {"vllm": {}}},
    }
    config = {
        "data": {"max_prompt_lenght": 1, "moss_video": {"fsp": 2}},
        "rollout": {"engine_kwargs": {"vllm": {"x": 1}}},
    }
    assert unknown_keys(config, schema) == ["data.max_prompt_lenght", "data.moss_video.fsp"]


def test_a_video_budget_the_prompt_length_cannot_hold_fails_the_check(job_config, qwen_dir, tmp_path, override):
    from verl.workers.config import HFModelConfig

    train_files = str(export_verl(mini_split_dir(), tmp_path / "train.parquet").files["all"])
    # The default caps allow 2,048 video tokens + the question.
    config = override(job_config, **{"data.train_files": train_files, "data.max_prompt_length": 2048})
    with pytest.raises(CheckFailed, match="over data.max_prompt_length=2048"):
        check_dataset(config, HFModelConfig(path=str(qwen_dir)), Console(quiet=True))
