"""The ``lmms_eval.models`` entry point: registers the baseline model and makes our tasks discoverable.

lmms-eval calls :func:`manifests` while it imports ``lmms_eval.models``. That import is still running then, so
this module must not import ``lmms_eval.models`` at module level (the circular import would be swallowed by
lmms-eval and the model would silently disappear): everything is imported inside the function.
"""

from __future__ import annotations

import sys

BASELINE_MODEL = "moss_baseline"


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    if "lmms_eval.tasks" in sys.modules:
        from .discovery import register_tasks

        register_tasks(sys.modules["lmms_eval.tasks"].TaskManager)
    else:  # register when lmms_eval.tasks is imported, without importing it (and datasets, torch...) here
        from . import autoload

        autoload.install()
    return [ModelManifest(model_id=BASELINE_MODEL, chat_class_path="moss_plugins.lmms_eval.baseline.SceneBaseline")]
