"""docs/upstream/lmms-eval-task-entry-points.patch applies to the installed lmms-eval, and its TaskManager then
indexes the task folders that installed packages register under the ``lmms_eval.tasks`` entry-point group."""

import importlib.util
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATCH = ROOT / "docs" / "upstream" / "lmms-eval-task-entry-points.patch"
FILES = ("lmms_eval/__main__.py", "lmms_eval/tasks/__init__.py")


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> Path:
    """A copy of the installed lmms-eval files the patch touches, with the patch applied."""
    if shutil.which("patch") is None:
        pytest.skip("no `patch` program")
    site = Path(importlib.util.find_spec("lmms_eval").origin).parents[1]
    copy = tmp_path_factory.mktemp("lmms_eval_copy")
    for name in FILES:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site / name, copy / name)
    for args in (["--dry-run"], []):
        out = subprocess.run(
            ["patch", "-p1", "--forward", *args, "-i", str(PATCH)], cwd=copy, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
    return copy


def test_the_patch_applies_to_the_installed_lmms_eval(patched):
    main = (patched / "lmms_eval/__main__.py").read_text()
    assert main.index('os.environ.get("LMMS_EVAL_PLUGINS"') < main.index("task_manager = TaskManager(")


def test_the_patched_task_manager_indexes_entry_point_folders(patched, tmp_path, monkeypatch):
    tasks = tmp_path / "plugin_tasks"
    tasks.mkdir()
    (tasks / "plugin_task.yaml").write_text("task: plugin_task\ndataset_path: json\ntest_split: test\n")
    (tmp_path / "plugin_pkg.py").write_text(f"TASKS_DIR = {str(tasks)!r}\n")
    dist = tmp_path / "plugin_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[lmms_eval.tasks]\nplugin = plugin_pkg:TASKS_DIR\nbroken = no_such_module:X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        "patched_lmms_eval_tasks", patched / "lmms_eval/tasks/__init__.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert str(tasks) in module.entry_point_task_paths()  # the broken entry point is skipped
    manager = object.__new__(module.TaskManager)  # only the indexing, of the entry-point folders alone
    manager.logger = logging.getLogger(
        "lmms-eval"
    )  # (installed packages' folders, ours too, are indexed as well)
    index = module.TaskManager.initialize_tasks(manager, include_defaults=False)
    assert index["plugin_task"]["yaml_path"] == str(tasks / "plugin_task.yaml")
