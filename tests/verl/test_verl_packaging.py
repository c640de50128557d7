"""What `pip install moss-plugins[verl]` installs for verl: the entry point, the Hydra plugin, the configs."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_the_entry_point_the_hydra_plugin_and_the_configs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "tasks")
    for package in ("moss_plugins", "hydra_plugins"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path),
        str(src),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    with zipfile.ZipFile(next(tmp_path.glob("moss_plugins-*.whl"))) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert "[verl.plugins]\nmoss_dtw = moss_plugins.verl.plugin" in entry_points
    assert {"hydra_plugins/moss_plugins/__init__.py", "moss_plugins/verl/config/__init__.py",
            "moss_plugins/verl/config/reward/moss_dtw.yaml", "moss_plugins/verl/config/data/moss_video.yaml",
            "moss_plugins/data/mini/train.jsonl"} <= names  # fmt: skip
    assert "hydra_plugins/__init__.py" not in names  # a namespace package shared with other Hydra plugins
