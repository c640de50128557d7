"""How verl finds moss-plugins: the verl.plugins entry point, the Hydra search path, loud failures."""

import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "VERL_USE_EXTERNAL_PLUGINS": "auto"}


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=ENV, timeout=300
    )


@pytest.mark.slow
def test_import_verl_alone_registers_moss_dtw_and_cfg_job_shows_our_manager_and_dataset():
    # One fresh interpreter (verl takes ~10 s to import): first `import verl` and nothing else, then exactly
    # `python -m verl.trainer.main_ppo reward=moss_dtw data=moss_video --cfg job`. The trainer mode moss_sync is
    # registered, but its trainer (verl internals) is not imported until a run selects it.
    out = _python(
        "import sys, verl\n"
        "from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER\n"
        "from verl.trainer.ppo.v1 import get_trainer_cls\n"
        "print(REWARD_MANAGER['moss_dtw'].__module__, 'moss_plugins.verl.plugin' in sys.modules, file=sys.stderr)\n"
        "print('moss_sync', get_trainer_cls('moss_sync').__module__, 'moss_plugins.verl.train_metrics' in sys.modules,\n"
        "      file=sys.stderr)\n"
        "import runpy\n"
        "sys.argv = ['main_ppo', 'reward=moss_dtw', 'data=moss_video', '--cfg', 'job']\n"
        "runpy.run_module('verl.trainer.main_ppo', run_name='__main__')\n"
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "moss_plugins.verl.reward_manager True" in out.stderr
    assert "moss_sync moss_plugins.verl.plugin False" in out.stderr
    config = yaml.safe_load(out.stdout)
    assert config["reward"]["reward_manager"]["source"] == "register"
    assert config["reward"]["reward_manager"]["name"] == "moss_dtw"
    assert config["data"]["custom_cls"] == {
        "path": "pkg://moss_plugins.verl.dataset",
        "name": "MossVideoDataset",
    }
    assert config["reward"]["moss_dtw"]["max_jump"] == 2 and config["data"]["moss_video"]["max_frames"] == 32


def test_a_registration_failure_is_loud(monkeypatch, caplog):
    # The reward core cannot be imported; verl's own plugin loader would only log this at DEBUG.
    import moss_plugins.verl
    from moss_plugins.verl import plugin

    monkeypatch.delitem(sys.modules, "moss_plugins.verl.reward_manager", raising=False)
    monkeypatch.delattr(moss_plugins.verl, "reward_manager", raising=False)
    monkeypatch.setitem(sys.modules, "moss_plugins.reward", None)
    with pytest.raises(ImportError), caplog.at_level(logging.DEBUG):
        importlib.reload(plugin)
    (record,) = [r for r in caplog.records if r.name == "moss_plugins.verl"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "registering the verl plugins failed, so reward=moss_dtw will fail" in record.getMessage()


def _keys(node, prefix=""):
    for key, value in node.items():
        if key != "defaults":
            yield f"{prefix}{key}"
            if isinstance(value, dict) and value:
                yield from _keys(value, f"{prefix}{key}.")


@pytest.mark.parametrize(
    ("ours", "verls", "block"),
    [
        ("reward/moss_dtw.yaml", "reward/reward.yaml", "moss_dtw"),
        ("data/moss_video.yaml", "data/legacy_data.yaml", "moss_video"),
    ],
)
def test_our_yaml_sets_only_keys_verl_has_besides_our_block(ours, verls, block):
    import verl.trainer.config as verl_pkg

    import moss_plugins.verl.config as ours_pkg

    mine = yaml.safe_load((Path(ours_pkg.__file__).parent / ours).read_text())
    theirs = set(_keys(yaml.safe_load((Path(verl_pkg.__file__).parent / verls).read_text())))
    unknown = {k for k in _keys(mine) if k.split(".")[0] != block} - theirs
    assert not unknown and block not in theirs
