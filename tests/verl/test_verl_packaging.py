"""What `pip install moss-plugins[verl]` installs for verl: the entry point, the Hydra plugin, the configs
(``wheel``, tests/conftest.py: built once per session)."""

import zipfile


def test_the_wheel_carries_the_entry_point_the_hydra_plugin_and_the_configs(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[verl.plugins]\nmoss_dtw = moss_plugins.verl.plugin" in entry_points
    assert {
        "hydra_plugins/moss_plugins/__init__.py",
        "moss_plugins/verl/config/__init__.py",
        "moss_plugins/verl/config/reward/moss_dtw.yaml",
        "moss_plugins/verl/config/data/moss_video.yaml",
        "moss_plugins/data/mini/train.jsonl",
    } <= names
    assert "hydra_plugins/__init__.py" not in names  # a namespace package shared with other Hydra plugins
