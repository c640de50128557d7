"""Fixtures shared across the test folders: costly things made once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray with 2 CPUs for the whole session (starting Ray costs ~10 s); ``run_map`` and verl's
    reward loop reuse a running session."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # a session leaked by a test would have other resources
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning",
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})  # fmt: skip
    yield ray
    ray.shutdown()
