"""lmms-eval integration: the ``moss_video``, ``mmvu`` and reasoning-format MVBench/MMVU tasks (their hooks and
row format), a pixel-reading baseline model and the report aggregation; the metrics and the judge they report
are :mod:`moss_plugins.evaluation`, the pictures :mod:`moss_plugins.viz`.

The task YAMLs live in ``tasks/`` at the repository root and ship inside the wheel as
``moss_plugins/lmms_eval/tasks`` (a symlink in the checkout). lmms-eval finds them without ``--include_path``:
see :mod:`moss_plugins.lmms_eval.discovery`.

This file is imported at interpreter start (by ``moss_plugins_lmms_eval.pth``): standard library only.
"""

import os

TASKS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")
