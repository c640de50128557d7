"""The ``lmms_eval.models`` entry point: registers the baseline model and makes our tasks discoverable.

lmms-eval calls :func:`manifests` while it imports ``lmms_eval.models``. That import is still running then, so
this module must not import ``lmms_eval.models`` at module level (the circular import would be swallowed by
lmms-eval and the model would silently disappear): everything is imported inside the function.
"""

from __future__ import annotations

BASELINE_MODEL = "moss_baseline"


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    from . import autoload

    autoload.install()  # registers the tasks now or when lmms_eval.tasks is imported (not importing it here)
    return [
        ModelManifest(
            model_id=BASELINE_MODEL, chat_class_path="moss_plugins.lmms_eval.baseline.SceneBaseline"
        )
    ]
