"""The wheel: tasks/ inside the package, the entry point, the .pth hook, and a non-editable install whose tasks
`lmms-eval tasks list` finds. ``wheel`` (tests/conftest.py) is built once per session."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from lmms_fixtures import offline_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        pth = z.read("moss_plugins_lmms_eval.pth").decode()
    for path in (ROOT / "tasks").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert f"moss_plugins/lmms_eval/tasks/{path.relative_to(ROOT / 'tasks').as_posix()}" in names, (
                path
            )
    assert "[lmms_eval.models]\nmoss_plugins = moss_plugins.lmms_eval.plugin:manifests" in entry_points
    assert (
        "[lmms_eval.tasks]\nmoss_plugins = moss_plugins.lmms_eval:TASKS_DIR" in entry_points
    )  # docs/upstream/
    assert pth.strip() == "import moss_plugins.lmms_eval.autoload"


@pytest.mark.slow
def test_installed_wheel_tasks_are_listed(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    venv_site = sysconfig.get_paths()["purelib"]
    # -S: no automatic site dirs; the wheel's folder is added first (its .pth runs), then this venv's packages
    # (lmms-eval and the rest) behind it, so moss_plugins comes from the wheel and not from the checkout.
    code = (
        f"import site, sys\nsite.addsitedir({str(target)!r})\nsite.addsitedir({venv_site!r})\n"
        "sys.argv = ['lmms-eval', 'tasks', 'list']\n"
        "from lmms_eval.cli.dispatch import main\nmain()\n"
        "import moss_plugins, lmms_eval.tasks\n"
        "print('PACKAGE', moss_plugins.__file__)\n"
        "print('YAML', lmms_eval.tasks.TaskManager('ERROR').task_index['moss_video']['yaml_path'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env=offline_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    listed = {line.strip() for line in out.stdout.splitlines()}
    assert {"moss_video", "moss_video_train", "mvbench_moss", "mmvu", "mmvu_moss"} <= listed
    found = dict(
        line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("PACKAGE", "YAML"))
    )
    assert found["PACKAGE"].startswith(str(target)) and found["YAML"].startswith(str(target))
