"""lmms-eval hooks of the moss_video tasks. The logic lives in ``moss_plugins.lmms_eval`` (tested there)."""

from moss_plugins.lmms_eval.dataset import observed_video, process_docs  # noqa: F401  (the YAML's process_docs)
from moss_plugins.lmms_eval.hooks import moss_video_results, result_hooks
from moss_plugins.lmms_eval.report import write_report  # noqa: F401  (the report aggregation)
from moss_plugins.output_format import build_prompt
from moss_plugins.evaluation.trace_metrics import bootstrap_ci  # noqa: F401  (the *_ci95 aggregation)


def doc_to_visual(doc):
    return [
        observed_video(doc)
    ]  # frames before observed_until only, cut on first use (moss_plugins.lmms_eval.dataset)


def doc_to_text(doc):
    return build_prompt(doc["question"], doc["options"])


process_results, process_results_with_judge = result_hooks(moss_video_results)
