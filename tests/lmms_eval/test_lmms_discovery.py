"""Task discovery without --include_path: the TaskManager wrapper, the version check, and `lmms-eval tasks list`
(the .pth trigger). The entry-point trigger alone is exercised by test_lmms_e2e.py (the hook removed first)."""

import logging

import pytest
from lmms_fixtures import offline_env, run_cli

from moss_plugins.lmms_eval import TASKS_DIR, discovery

OUR_TASKS = ("moss_video", "moss_video_train", "moss_video_judge", "mvbench_moss", "mvbench_moss_judge", "mmvu",
             "mmvu_moss", "mmvu_moss_judge")  # fmt: skip


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
