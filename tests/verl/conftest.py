"""Shared, built-once fixtures: tiny model folders of the recipes' families, the composed trainer config, and
``override`` to change a copy of it."""

import pytest
from omegaconf import OmegaConf

from moss_plugins.testing import tiny_models as tiny
from moss_plugins.verl.compose import compose_job


@pytest.fixture(scope="session")
def qwen_dir(tmp_path_factory):
    return tiny.build("qwen2_5_vl", tmp_path_factory.mktemp("qwen2_5_vl"))


@pytest.fixture(scope="session")
def phi2_dir(tmp_path_factory):
    return tiny.build("phi2", tmp_path_factory.mktemp("phi2"))


@pytest.fixture(scope="session")
def job_config():
    """``python -m verl.trainer.main_ppo reward=moss_dtw data=moss_video --cfg job`` (no other flag)."""
    return compose_job(["reward=moss_dtw", "data=moss_video"])


@pytest.fixture(scope="session")
def qwen_tokenizer(qwen_dir):
    from verl.utils import hf_tokenizer

    return hf_tokenizer(str(qwen_dir))


def _override(config, **dotted):
    """A copy of ``config`` (the shared session one stays as composed) with ``dotted`` keys set, added when absent:
    ``override(job_config, **{"reward.num_workers": 2})``."""
    config = OmegaConf.create(OmegaConf.to_container(config))
    for key, value in dotted.items():
        OmegaConf.update(config, key, value, force_add=True)
    return config


@pytest.fixture(scope="session")
def override():
    """``override(config, **dotted)``: see ``_override`` (a fixture: conftest modules cannot be imported by name)."""
    return _override
