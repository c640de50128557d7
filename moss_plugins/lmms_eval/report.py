"""The HTML report of an lmms-eval run of our tasks (lmms-eval side; the rendering is :mod:`moss_plugins.viz.report`).

Every task declares a ``report`` metric whose items are the per-sample report items of
:mod:`moss_plugins.lmms_eval.hooks`; its aggregation, :func:`write_report`, writes the HTML file and returns its
path, which lmms-eval prints in its results table and stores in the results JSON (``report,none``). Like the
submission files other lmms-eval tasks write from their aggregations, it goes under ``--output_path``
(``<output_path>/moss_reports/``), or under ``$MOSS_REPORT_DIR``; without either nothing is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..viz.report import write_report_file

REPORT_DIR_ENV = "MOSS_REPORT_DIR"


def report_dir(args=None) -> Path | None:
    if os.environ.get(REPORT_DIR_ENV):
        return Path(os.environ[REPORT_DIR_ENV]).expanduser()
    output_path = getattr(args, "output_path", None)
    if not output_path:
        return None
    base = Path(output_path)
    return (base.parent if base.suffix == ".json" else base) / "moss_reports"


def report_path(items: Sequence[Mapping], folder: Path) -> Path:
    ids = "\n".join(str(item.get("id")) for item in items)
    benchmark = items[0].get("benchmark") or "moss"
    return folder / f"{benchmark}-{hashlib.sha1(ids.encode()).hexdigest()[:8]}.html"


def write_report(items: Sequence[Mapping], args=None) -> str:
    """lmms-eval aggregation of the ``report`` metric: write the HTML report, return its path ("" if none)."""
    folder = report_dir(args)
    if folder is None or not items:
        return ""
    model = f"{getattr(args, 'model', '')} {getattr(args, 'model_args', '')}".strip()
    return str(write_report_file(items, report_path(items, folder), model))
