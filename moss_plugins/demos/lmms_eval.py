"""Demo stage: the lmms-eval command of README.md, offline, on the bundled mini split with the baseline model.

It runs the real CLI (``lmms-eval --model moss_baseline --tasks moss_video``: no ``--include_path``, no data
variable) and prints the metrics with their bootstrap intervals and per-task-type means, an alignment PNG of one
sample and where the HTML report is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rich import box
from rich.table import Table

from ..evaluation.trace_metrics import REFERENCE_METRICS
from ..sample import TASK_TYPES

OUT = Path("outputs") / "lmms-eval-demo"
COMMAND = ["--model", "moss_baseline", "--tasks", "moss_video", "--log_samples"]


def run(console) -> None:
    cli = Path(sys.executable).with_name("lmms-eval")
    out = OUT.resolve()
    args = [str(cli), *COMMAND, "--output_path", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("MOSS_VIDEO_LMMS_DIR", None)  # the bundled mini split
    console.print("$ lmms-eval " + " ".join([*COMMAND, "--output_path", str(OUT)]))
    before = set(out.rglob("*_results.json")) if out.exists() else set()
    with console.status("lmms-eval: moss_baseline on moss_video (the bundled mini split, 60 test samples)"):
        done = subprocess.run(args, env=env, capture_output=True, text=True)
    runs = sorted(set(out.rglob("*_results.json")) - before)
    if done.returncode != 0 or "Error during evaluation" in done.stdout or not runs:
        console.print(done.stdout[-3000:] + done.stderr[-3000:], markup=False)
        raise RuntimeError("the lmms-eval run failed; its output is above")
    results = json.loads(runs[-1].read_text())
    row = results["results"]["moss_video"]
    for table in metrics_tables(row):
        console.print(table)
    samples = next(runs[-1].parent.glob(runs[-1].name.replace("_results.json", "_samples_moss_video.jsonl")))
    png = alignment_picture(samples, out / "alignment.png")
    console.print(f"results: {runs[-1]}\nlogged samples (raw traces): {samples}")
    console.print(f"HTML report: {row['report,none']}\nalignment of one sample: {png}")


SHORT = {
    "accuracy": "acc",
    "format_rate": "format",
    "trace_dtw": "dtw",
    "step_coverage": "coverage",
    "temporal_order": "order",
    "answer_consistency": "consist.",
}


def metrics_tables(row: dict) -> tuple[Table, Table]:
    """(each metric: mean and 95% bootstrap interval; the means per task type)."""
    metrics = [m for m in REFERENCE_METRICS if f"{m},none" in row]
    overall = Table(title="moss_video (test) · moss_baseline", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("metric", "mean", "95% CI"):
        overall.add_column(col, justify="left" if col == "metric" else "right")
    for m in metrics:
        low, high = row[f"{m}_ci95,none"]
        overall.add_row(m, f"{row[f'{m},none']:.3f}", f"[{low:.3f}, {high:.3f}]")
    by_type = Table(title="per task type (means)", title_justify="left", box=box.SIMPLE_HEAD)
    by_type.add_column("task type")
    for m in metrics:
        by_type.add_column(SHORT[m], justify="right")
    for t in TASK_TYPES:
        by_type.add_row(t, *("–" if (v := row.get(f"{m}/{t},none")) is None else f"{v:.2f}" for m in metrics))
    return overall, by_type


def alignment_picture(samples: Path, out: Path) -> Path:
    """The alignment PNG of the first logged sample."""
    from ..evaluation.trace_metrics import COVERAGE_THRESHOLD
    from ..viz.alignment import save_alignment_png
    from ..viz.report import items_from_samples

    item = items_from_samples(samples)[0]
    scores = " · ".join(f"{k} {v:.2f}" for k, v in item["metrics"].items())
    return save_alignment_png(
        out,
        item["pred_steps"],
        item["ref_steps"],
        item["similarity"],
        item["path"],
        title=f"{item['id']}: {item['question']}",
        subtitle=scores,
        threshold=COVERAGE_THRESHOLD,
    )
