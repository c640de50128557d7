"""How lmms-eval finds our tasks with no ``--include_path``, and how to turn that off.

lmms-eval 0.7 indexes tasks in ``TaskManager.initialize_tasks(include_path, include_defaults)``: its own
``lmms_eval/tasks`` folder, then each include path (earlier paths win on a name clash). It has no entry point
for tasks, and ``LMMS_EVAL_PLUGINS`` only extends the include path after the CLI has built its TaskManager
(0.7.3 ``__main__.cli_evaluate_single``), so it never makes a task visible. docs/upstream/ holds the patch that
would make all of this unnecessary (an ``lmms_eval.tasks`` entry-point group read by the TaskManager).

So :func:`register_tasks` wraps ``TaskManager.initialize_tasks`` to append our task folder to the include
path, after the user's: lmms-eval's built-in tasks and the user's ``--include_path`` tasks still win a name
clash. It runs right after ``lmms_eval.tasks`` is imported (:mod:`moss_plugins.lmms_eval.autoload`, a finder on
``sys.meta_path`` that does nothing else), which is installed by two triggers:

1. our ``lmms_eval.models`` entry point (:func:`moss_plugins.lmms_eval.plugin.manifests`), which lmms-eval
   loads on every evaluation path (``lmms-eval --tasks ...``, ``python -m lmms_eval``, ``accelerate launch``,
   ``lmms_eval.evaluator.simple_evaluate``) before it builds a TaskManager;
2. ``moss_plugins_lmms_eval.pth`` (written into site-packages by setup.py), for the paths that never import
   ``lmms_eval.models``: measured on 0.7.3, ``lmms-eval tasks list``, ``lmms-eval power`` and a
   ``TaskManager()`` built in Python do not (tests/lmms_eval/test_lmms_discovery.py checks the first). The .pth
   costs an unrelated Python process under 1 ms (two tiny modules, standard library only).

``MOSS_LMMS_EVAL_TASKS=0`` turns both off (lmms-eval then sees only ``--include_path``). The wrapper relies on
``initialize_tasks`` taking ``include_path``; if that changes, nothing is patched and a message names the
tested lmms-eval range and the ``--include_path`` fallback. This module imports only the standard library.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re

from . import TASKS_DIR

log = logging.getLogger("moss_plugins.lmms_eval")

TESTED_RANGE = ((0, 7, 3), (0, 8, 0))  # the range pinned in the `eval` extra


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)).removesuffix(".0")  # (0, 8, 0) -> "0.8", as the pin writes it


TESTED_RANGE_TEXT = f">={_dotted(TESTED_RANGE[0])},<{_dotted(TESTED_RANGE[1])}"  # ">=0.7.3,<0.8"
ENV_SWITCH = "MOSS_LMMS_EVAL_TASKS"
_MARK = "_moss_plugins_tasks"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def lmms_eval_version() -> str | None:
    from importlib import metadata

    for name in ("lmms_eval", "lmms-eval"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def in_tested_range(version: str | None) -> bool:
    if version is None:
        return False
    low, high = TESTED_RANGE
    return low <= version_tuple(version) < high


def fallback_hint() -> str:
    return f"pass `--include_path {TASKS_DIR}` to lmms-eval to use the moss-plugins tasks"


def with_our_tasks(include_path) -> list[str]:
    """The include path with our task folder appended (once)."""
    if include_path is None:
        paths = []
    elif isinstance(include_path, (str, os.PathLike)):
        paths = [os.fspath(include_path)]
    else:
        paths = [os.fspath(p) for p in include_path]
    ours = os.path.realpath(TASKS_DIR)
    if not any(os.path.realpath(p) == ours for p in paths):
        paths.append(TASKS_DIR)
    return paths


def register_tasks(task_manager_cls) -> bool:
    """Make ``task_manager_cls`` (lmms-eval's TaskManager) index our tasks; True when it does."""
    if not enabled():
        return False
    original = task_manager_cls.initialize_tasks
    if getattr(original, _MARK, False):
        return True
    version = lmms_eval_version()
    params = inspect.signature(original).parameters
    if "include_path" not in params:
        log.error(
            "moss-plugins: lmms-eval %s changed TaskManager.initialize_tasks (no include_path argument); automatic "
            "task discovery was tested with lmms-eval %s. Install that range (pip install 'moss-plugins[eval]') "
            "or %s.",
            version,
            TESTED_RANGE_TEXT,
            fallback_hint(),
        )
        return False
    if not in_tested_range(version):
        log.warning(
            "moss-plugins: task discovery was tested with lmms-eval %s, found %s; if `lmms-eval tasks list` does "
            "not show moss_video, %s.",
            TESTED_RANGE_TEXT,
            version,
            fallback_hint(),
        )

    @functools.wraps(original)
    def initialize_tasks(self, include_path=None, *args, **kwargs):
        return original(self, with_our_tasks(include_path), *args, **kwargs)

    setattr(initialize_tasks, _MARK, True)
    task_manager_cls.initialize_tasks = initialize_tasks
    return True
