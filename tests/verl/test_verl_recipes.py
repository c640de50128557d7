"""The recipes: `--check` passes on CPU for both, run.sh launches what it says, bad settings are caught."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from moss_plugins.data import mini_split_dir
from moss_plugins.verl.rows import export_verl
from moss_plugins.verl.check import (
    LORA,
    LORA_FROZEN_VISION,
    CheckFailed,
    check_dataset,
    compose,
    run_check,
    unknown_keys,
)

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
    assert argv == [
        "RAY_ADDRESS=",
        "-m",
        "moss_plugins.verl.check",
        str(RECIPES / recipe),
        "--family",
        FAMILIES[recipe],
        "trainer.n_gpus_per_node=4",
    ]


@pytest.mark.slow
def test_run_sh_check_takes_own_data_and_overrides_on_the_real_command_line(tmp_path):
    # The real launcher and the real python (not a stub): MOSS_DATA adds data.* overrides before the user's.
    data = export_verl(mini_split_dir(), tmp_path / "verl").files
    env = {**os.environ, "PYTHON": sys.executable, "MOSS_DATA": str(data["train"].parent)}
    out = subprocess.run(
        [RECIPES / "phi2_moss_dtw" / "run.sh", "--check", "trainer.n_gpus_per_node=4"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "check passed" in out.stdout and "the bundled mini split, exported" not in out.stdout


def test_run_sh_trains_with_the_recipe_config_on_one_node_or_joins_a_ray_cluster(python_stub, tmp_path):
    one = _run_sh("qwen2_5_vl_7b_moss_dtw", python_stub, "trainer.total_epochs=1", MOSS_DATA=str(tmp_path))
    assert one == [
        "RAY_ADDRESS=",
        "-m",
        "verl.trainer.main_ppo",
        "--config-path",
        str(RECIPES / "qwen2_5_vl_7b_moss_dtw"),
        "--config-name",
        "config",
        f"data.train_files={tmp_path}/train.parquet",
        f"data.val_files={tmp_path}/test.parquet",
        "trainer.nnodes=1",
        "trainer.total_epochs=1",
    ]
    many = _run_sh("phi2_moss_dtw", python_stub, MOSS_DATA=str(tmp_path), NNODES="3")
    assert many[0] == "RAY_ADDRESS=auto" and "trainer.nnodes=3" in many


def test_training_without_data_says_what_to_do(python_stub):
    env = {k: v for k, v in os.environ.items() if k != "MOSS_DATA"}
    out = subprocess.run(
        [RECIPES / "phi2_moss_dtw" / "run.sh"],
        capture_output=True,
        text=True,
        env={**env, "PYTHON": str(python_stub)},
        check=False,
    )
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


def test_a_video_budget_the_prompt_length_cannot_hold_fails_the_check(
    job_config, qwen_dir, tmp_path, override
):
    from verl.workers.config import HFModelConfig

    train_files = str(export_verl(mini_split_dir(), tmp_path / "train.parquet").files["all"])
    # The default caps allow 2,048 video tokens + the question.
    config = override(job_config, **{"data.train_files": train_files, "data.max_prompt_length": 2048})
    with pytest.raises(CheckFailed, match="over data.max_prompt_length=2048"):
        check_dataset(config, HFModelConfig(path=str(qwen_dir)), Console(quiet=True))


@pytest.mark.parametrize("variant", [LORA, (*LORA, LORA_FROZEN_VISION)], ids=["lora", "lora_frozen_vision"])
def test_the_documented_lora_variants_compose_and_reach_verls_model_config(variant, qwen_dir):
    from verl.utils.config import omega_conf_to_dataclass

    recipe = RECIPES / "qwen2_5_vl_7b_moss_dtw"
    config = compose(recipe, [f"actor_rollout_ref.model.path={qwen_dir}", *variant], Console(quiet=True))
    model = omega_conf_to_dataclass(
        config.actor_rollout_ref.model
    )  # verl's HFModelConfig, as the trainer builds it
    assert (model.lora_rank, model.lora_alpha, model.target_modules) == (64, 32, "all-linear")
    assert config.actor_rollout_ref.actor.optim.lr == 3e-6
    assert model.exclude_modules == (".*visual.*" if LORA_FROZEN_VISION in variant else None)
    readme = (recipe / "README.md").read_text()
    for override in variant:  # the README shows exactly these (the shell quotes the regex)
        key, value = override.split("=", 1)
        assert f"{key}={value}" in readme or f"{key}='{value}'" in readme, override


def test_freeze_vision_tower_is_refused_because_verl_never_reads_it(qwen_dir):
    # verl 0.9.1 declares the key (actor.yaml) but no code uses it: a run would train the tower anyway.
    import verl

    root = Path(verl.__file__).parent
    readers = [p for p in root.rglob("*.py") if "freeze_vision_tower" in p.read_text(errors="ignore")]
    assert [p.relative_to(root).as_posix() for p in readers] == [
        "workers/config/actor.py"
    ]  # the field, nothing else
    with pytest.raises(CheckFailed, match="does nothing in verl 0.9.*exclude_modules"):
        compose(
            RECIPES / "qwen2_5_vl_7b_moss_dtw",
            [f"actor_rollout_ref.model.path={qwen_dir}", "actor_rollout_ref.actor.freeze_vision_tower=true"],
            Console(quiet=True),
        )


def test_the_smoke_settings_are_keys_verl_has(qwen_dir):
    # `run.sh --smoke` lays SMOKE over the recipe: --check's schema test holds for it too (keys added with + aside).
    from moss_plugins.verl.smoke import SMOKE

    plain = [o for o in SMOKE if not o.startswith("+")]
    config = compose(
        RECIPES / "qwen2_5_vl_7b_moss_dtw",
        [f"actor_rollout_ref.model.path={qwen_dir}", *plain],
        Console(quiet=True),
    )
    assert config.actor_rollout_ref.rollout.name == "hf_generate" and config.trainer.total_training_steps == 2
