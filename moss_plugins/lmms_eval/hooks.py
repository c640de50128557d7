"""What the tasks' ``process_results`` return: metric values for lmms-eval, plus a ``report`` item per sample.
Each task folder's ``utils.py`` takes its pair of hooks from :func:`result_hooks`.

Each metric appears under its name, ``<name>_ci95`` and ``<name>/<group>`` (:func:`lmms_results`). The
``report`` item (the parsed answer, the steps, the alignment, the scores, the judge's verdict) is kept in
lmms-eval's logged samples and aggregated by :func:`moss_plugins.lmms_eval.report.write_report` into the
HTML report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..evaluation import judge
from ..evaluation.trace_metrics import reference_free_metrics, reference_metrics
from . import judge_provider  # noqa: F401  (registers lmms-eval's judge providers)
from .rows import ground_truth

MAX_OUTPUT_CHARS = 8000  # of the raw output kept in the report item (the full text is in the logged sample)


def lmms_results(metrics: Mapping[str, float], group: str | None = None) -> dict:
    """One lmms-eval ``process_results`` dict: each metric under its name (aggregated by the mean), under
    ``<name>_ci95`` (aggregated by :func:`moss_plugins.evaluation.trace_metrics.bootstrap_ci`) and, for the breakdown, under ``<name>/<group>``."""
    out = {}
    for name, value in metrics.items():
        out[name] = value
        out[f"{name}_ci95"] = value
        if group:
            out[f"{name}/{group}"] = value
    return out


def _report(output: str, scored: dict, extra: Mapping) -> dict:
    return {**extra, "output": output[:MAX_OUTPUT_CHARS], "metrics": scored["metrics"], **scored["details"]}


def _judged(
    out: dict, report: dict, question: str, options, output: str, group: str | None, reference=None
) -> None:
    verdict = judge.judge_trace(question, options, output, reference=reference)
    if verdict.score is not None:
        out.update(lmms_results({"judge_consistency": verdict.score}, group))
        report["metrics"]["judge_consistency"] = verdict.score
    report["judge"] = verdict.to_json()


def moss_video_results(doc: Mapping, output: str, use_judge: bool = False) -> dict:
    truth = ground_truth(doc)
    scored = reference_metrics(output, truth)
    out = lmms_results(scored["metrics"], doc["task_type"])
    report = _report(
        output,
        scored,
        {
            "benchmark": f"moss_video_{doc['split']}",
            "id": doc["id"],
            "task_type": doc["task_type"],
            "question": doc["question"],
            "options": truth["options"],
            "answer": doc["answer"],
            "observed_until": doc["observed_until"],
            "video": doc.get("video_path"),  # the report shows frames before the cut
        },
    )
    if use_judge:
        _judged(
            out, report, doc["question"], truth["options"], output, doc["task_type"], reference=truth["trace"]
        )
    out["report"] = report
    return out


def reference_free_results(
    benchmark: str,
    output: str,
    question: str,
    options: Sequence[str] | None,
    answer: str,
    doc_id: str = "",
    group: str | None = None,
    video: str | None = None,
    use_judge: bool = False,
) -> dict:
    scored = reference_free_metrics(output, answer, options)
    out = lmms_results(scored["metrics"], group)
    report = _report(
        output,
        scored,
        {
            "benchmark": benchmark,
            "id": doc_id,
            "task_type": group,
            "question": question,
            "options": list(options or []),
            "answer": answer,
            "video": video,
        },
    )
    if use_judge:
        _judged(out, report, question, options, output, group)
    out["report"] = report
    return out


def result_hooks(results: Callable[..., dict]) -> tuple[Callable, Callable]:
    """A task's ``process_results`` and ``process_results_with_judge`` (the names its YAMLs give as
    ``!function utils.<name>``) from ``results(doc, output, use_judge)``: lmms-eval passes one output per doc."""

    def process_results(doc, outputs):
        return results(doc, outputs[0], use_judge=False)

    def process_results_with_judge(doc, outputs):
        return results(doc, outputs[0], use_judge=True)

    return process_results, process_results_with_judge
