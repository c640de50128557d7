"""Every override of verl's private code checks verl's version first and refuses another with one line: the CPU
backend's patches, the trainer mode moss_sync and MossVideoDataset."""

import tomllib
from pathlib import Path

import pytest

from moss_plugins.verl import cpu_backend
from moss_plugins.verl.supported import SUPPORTED_VERL, UnsupportedVerl, require_supported_verl


def _build_moss_sync():
    from verl.trainer.ppo.v1 import get_trainer_cls

    get_trainer_cls("moss_sync")(config=None)


def _build_dataset():
    from moss_plugins.verl.dataset import MossVideoDataset

    MossVideoDataset(data_files=[], tokenizer=None, config=None)


@pytest.mark.parametrize("version", ["0.9.0", "0.10.0", "1.2.3"])
def test_every_override_refuses_a_verl_it_was_not_written_for(monkeypatch, version):
    import verl
    from verl.utils import distributed

    import moss_plugins.verl.plugin  # noqa: F401  (registers moss_sync, as `import verl` does)

    monkeypatch.setattr(verl, "__version__", version)
    before = distributed.initialize_global_process_group_ray
    uses = {
        "process-group backend": cpu_backend.patch_process_group_backend,
        "CPUOffloadPolicy": cpu_backend.patch_offload_pinning,
        "moss_sync": _build_moss_sync,
        "MossVideoDataset": _build_dataset,
    }
    for name, use in uses.items():
        with pytest.raises(UnsupportedVerl) as e:
            use()
        message = str(e.value)
        assert "\n" not in message and name in message
        assert f"verl {version}" in message and SUPPORTED_VERL in message
    assert distributed.initialize_global_process_group_ray is before  # refused, not patched


def test_the_installed_verl_is_supported():
    require_supported_verl("any")


def test_the_guard_is_the_verl_extras_pin():
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert f"verl{SUPPORTED_VERL}" in pyproject["project"]["optional-dependencies"]["verl"]
