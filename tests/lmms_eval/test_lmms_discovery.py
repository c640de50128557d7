"""Task discovery without --include_path: the TaskManager wrapper, the version check, and `lmms-eval tasks list`
(the .pth trigger). The entry-point trigger alone is exercised by test_lmms_e2e.py (the hook removed first)."""

import logging
import subprocess
import sys

import pytest
from lmms_fixtures import offline_env, run_cli

from moss_plugins.lmms_eval import TASKS_DIR, discovery

OUR_TASKS = (
    "moss_video",
    "moss_video_train",
    "moss_video_judge",
    "mvbench_moss",
    "mvbench_moss_judge",
    "mmvu",
    "mmvu_moss",
    "mmvu_moss_judge",
)


def fake_task_manager():
    class TaskManager:
        def initialize_tasks(self, include_path=None, include_defaults=True):
            return include_path

    return TaskManager


def test_our_folder_is_appended_after_the_users_once():
    assert discovery.with_our_tasks(None) == [TASKS_DIR]
    assert discovery.with_our_tasks("/mine") == ["/mine", TASKS_DIR]
    assert discovery.with_our_tasks(["/a", TASKS_DIR]) == ["/a", TASKS_DIR]


def test_register_wraps_initialize_tasks_once(monkeypatch):
    monkeypatch.setattr(discovery, "lmms_eval_version", lambda: "0.7.3")
    tm = fake_task_manager()
    assert discovery.register_tasks(tm)
    first = tm.initialize_tasks
    assert discovery.register_tasks(tm)
    assert tm.initialize_tasks is first  # not wrapped a second time
    assert tm().initialize_tasks("/mine") == ["/mine", TASKS_DIR]
    assert tm().initialize_tasks(include_path=None, include_defaults=False) == [TASKS_DIR]


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(discovery.ENV_SWITCH, "0")
    tm = fake_task_manager()
    assert not discovery.register_tasks(tm)
    assert tm().initialize_tasks("/mine") == "/mine"


def test_changed_lmms_eval_internals_are_reported_with_the_tested_range(monkeypatch, caplog):
    monkeypatch.setattr(discovery, "lmms_eval_version", lambda: "0.9.0")

    class TaskManager:
        def initialize_tasks(self, paths=None):
            return paths

    with caplog.at_level(logging.WARNING, logger="moss_plugins.lmms_eval"):
        assert not discovery.register_tasks(TaskManager)
    assert ">=0.7.3,<0.8" in caplog.text and "--include_path" in caplog.text and "0.9.0" in caplog.text
    assert TaskManager().initialize_tasks("/x") == "/x"


def test_an_untested_version_warns_but_still_registers(monkeypatch, caplog):
    monkeypatch.setattr(discovery, "lmms_eval_version", lambda: "0.8.1")
    with caplog.at_level(logging.WARNING, logger="moss_plugins.lmms_eval"):
        assert discovery.register_tasks(fake_task_manager())
    assert ">=0.7.3,<0.8" in caplog.text and "0.8.1" in caplog.text


def test_installed_lmms_eval_is_in_the_tested_range():
    assert discovery.in_tested_range(discovery.lmms_eval_version())
    assert not discovery.in_tested_range("0.8.0") and not discovery.in_tested_range("0.7.2")


@pytest.mark.slow
def test_lmms_eval_tasks_list_finds_our_tasks(tmp_path):
    """`lmms-eval tasks list` never imports lmms_eval.models: the .pth import hook registers the tasks."""
    out = run_cli(["tasks", "list"], offline_env(), tmp_path)
    listed = {line.strip() for line in out.stdout.splitlines()}
    assert set(OUR_TASKS) <= listed
    assert {"mvbench", "mmvu_val"} <= listed  # lmms-eval's own tasks are still there


SWITCH_PROBE = """
import sys
import lmms_eval.tasks as tasks
print("PTH_TRIGGER", getattr(tasks.TaskManager.initialize_tasks, "_moss_plugins_tasks", False))
tasks.TaskManager.initialize_tasks = lambda self, include_path=None, include_defaults=True: {}  # skip the indexing
from lmms_eval.cli.dispatch import main
sys.argv = ["lmms-eval", "tasks", "list"]
main()
print("TASKS_LIST_IMPORTED_MODELS", "lmms_eval.models" in sys.modules)
import lmms_eval.models as models
print("ENTRY_POINT_TRIGGER", getattr(tasks.TaskManager.initialize_tasks, "_moss_plugins_tasks", False))
print("MODEL", "moss_baseline" in models.MODEL_REGISTRY_V2.list_model_names())
"""


@pytest.mark.slow
def test_the_switch_turns_both_triggers_off_and_tasks_list_needs_the_pth(tmp_path):
    """With MOSS_LMMS_EVAL_TASKS=0 neither the .pth hook nor the entry point touches the TaskManager (the model
    stays registered). `lmms-eval tasks list` never imports lmms_eval.models, so the entry point alone cannot
    make our tasks visible there: that is why the .pth exists."""
    out = subprocess.run(
        [sys.executable, "-c", SWITCH_PROBE],
        env=offline_env(**{discovery.ENV_SWITCH: "0"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.split(" ", 1)[0].isupper())
    assert found == {
        "PTH_TRIGGER": "False",
        "TASKS_LIST_IMPORTED_MODELS": "False",
        "ENTRY_POINT_TRIGGER": "False",
        "MODEL": "True",
    }
