"""Imported at interpreter start by ``moss_plugins_lmms_eval.pth`` (written into site-packages by setup.py).

It installs a finder that does nothing until ``lmms_eval.tasks`` is imported; right after that module runs it
calls :func:`moss_plugins.lmms_eval.discovery.register_tasks` on its ``TaskManager``. This covers the
lmms-eval paths that never load the ``lmms_eval.models`` entry points (``lmms-eval tasks list``, code that
builds a TaskManager itself). Standard library only, and it never raises: a failure here must not break an
unrelated Python process.
"""

from __future__ import annotations

import sys

TARGET = "lmms_eval.tasks"


class _AfterImport:
    """A ``sys.meta_path`` finder that finds nothing itself: it takes the regular spec of ``lmms_eval.tasks``
    and wraps its loader so that our tasks are registered right after that module has run. (No importlib.abc
    base class: importing it would cost every Python process ~20 ms at start.)"""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET:
            return None
        from importlib.machinery import PathFinder

        try:
            spec = PathFinder.find_spec(fullname, path)  # path: lmms_eval.__path__
        except Exception:
            return None
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        uninstall()
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _register(module)

        spec.loader.exec_module = exec_module
        return spec


def _register(module) -> None:
    try:
        from .discovery import register_tasks

        register_tasks(module.TaskManager)
    except Exception as e:  # never break lmms-eval itself
        print(f"moss-plugins: could not register the lmms-eval tasks ({e!r})", file=sys.stderr)


_HOOK = _AfterImport()


def install() -> None:
    """Register now if ``lmms_eval.tasks`` is already imported, else when it is."""
    if TARGET in sys.modules:
        _register(sys.modules[TARGET])
    elif _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)


def uninstall() -> None:
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


install()  # inert until lmms_eval.tasks is imported; MOSS_LMMS_EVAL_TASKS=0 is checked then
