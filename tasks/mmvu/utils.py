"""lmms-eval hooks of the mmvu_moss tasks (MMVU in the MOSS-ChatV format). Logic: ``moss_plugins.lmms_eval``."""

from moss_plugins.lmms_eval.hooks import reference_free_results, result_hooks
from moss_plugins.lmms_eval.report import write_report  # noqa: F401  (the report aggregation)
from moss_plugins.output_format import LETTERS, build_prompt
from moss_plugins.evaluation.trace_metrics import bootstrap_ci  # noqa: F401  (the *_ci95 aggregation)


def options(doc):
    """The multiple-choice options in letter order (MMVU stores them as {"A": ..., "E": ...}); None if open-ended."""
    if doc["question_type"] != "multiple-choice":
        return None
    choices, out = doc["choices"] or {}, []
    for letter in LETTERS:  # stop at the first missing letter, so that letters keep their meaning
        if not choices.get(letter):
            break
        out.append(choices[letter])
    return out


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return build_prompt(doc["question"], options(doc))


def _results(doc, output, use_judge):
    return reference_free_results(
        "mmvu_moss",
        output,
        doc["question"],
        options(doc),
        doc["answer"],
        doc_id=str(doc.get("id", "")),
        group=doc["question_type"],
        use_judge=use_judge,
    )


process_results, process_results_with_judge = result_hooks(_results)
