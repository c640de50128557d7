"""lmms-eval hooks of the mvbench_moss tasks (MVBench in the MOSS-ChatV format). Logic: ``moss_plugins.lmms_eval``."""

from moss_plugins.lmms_eval.hooks import reference_free_results, result_hooks
from moss_plugins.lmms_eval.report import write_report  # noqa: F401  (the report aggregation)
from moss_plugins.output_format import LETTERS, build_prompt
from moss_plugins.evaluation.trace_metrics import bootstrap_ci  # noqa: F401  (the *_ci95 aggregation)


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return build_prompt(doc["question"], doc["candidates"])


def _results(doc, output, use_judge):
    answer = LETTERS[list(doc["candidates"]).index(doc["answer"])]
    return reference_free_results(
        "mvbench_moss",
        output,
        doc["question"],
        doc["candidates"],
        answer,
        doc_id=doc.get("video", ""),
        use_judge=use_judge,
    )


process_results, process_results_with_judge = result_hooks(_results)
