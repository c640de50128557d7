"""Fixtures shared across the test folders: costly things made once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray with 2 CPUs for the whole session (starting Ray costs ~10 s); ``run_map`` and verl's
    reward loop reuse a running session."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # a session leaked by a test would have other resources
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="warning",
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once from a copy of what the build reads (so it writes nothing into the
    checkout): the lmms-eval tasks/ (reached through moss_plugins/lmms_eval/tasks, a symlink), the Hydra plugin,
    setup.py's .pth step."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("moss_plugins", "hydra_plugins", "tasks"):
        shutil.copytree(ROOT / folder, src / folder, symlinks=True, ignore=ignore)
    out = tmp_path_factory.mktemp("wheels")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(src),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return next(out.glob("moss_plugins-*.whl"))


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Qwen2.5-VL (hidden size 64) with weights, saved like a hub checkpoint:
    built once for the lmms-eval end-to-end runs and the CPU rollout."""
    from moss_plugins.testing.tiny_models import build

    return build("qwen2_5_vl", tmp_path_factory.mktemp("tiny_qwen2_5_vl"), weights=True)
