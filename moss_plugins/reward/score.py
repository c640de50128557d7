"""The MOSS-ChatV reward: the sum that verl's custom reward function :func:`compute_score` returns, per rollout::

    score = acc_weight * acc + format_weight * format + process_weight * process - padding_weight * padding
            + the weight of each plugin term in ``extra_terms`` times its value

* ``acc``: 1 when the answer block holds the right answer (:mod:`.answer`), else 0;
* ``format``: 1 when the output has the expected think/answer form (:mod:`moss_plugins.output_format`);
* ``process``: T(D) of the distance D per reference step of the alignment of the output's steps with the
  reference's (:mod:`.alignment`: the step similarity, the alignment, the order and negation penalties); paid
  only for a right answer with ``gate_process``;
* ``padding``: the share of the output no reference step accounts for (:mod:`.penalties`).

The reference is parsed and prepared once per content (:mod:`.reference`). Bad configuration or ground truth
raises at once; model output never does: whatever it is, it gets a score and a ``reason``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..output_format import ANSWER_OPEN, answer_blocks, format_ok
from . import penalties, registry, semantic, static_vectors
from .alignment import Alignment, align_steps
from .answer import is_correct, parse_answer
from .config import RewardConfig, resolve_config
from .ground_truth import GroundTruth
from .reference import Reference, prepare_reference, segment

log = logging.getLogger(__name__)

# More answer blocks than this are "multiple answers" without reading them all (a flood of tags stays cheap).
MAX_ANSWER_BLOCKS = 8

# Every result has exactly these keys (plus one per configured extra term), whatever the input.
RESULT_KEYS = (
    "score",
    "acc",
    "format",
    "process",
    "padding",
    "dtw_distance",
    "dtw_normalized",
    "n_pred_steps",
    "n_ref_steps",
    "pred_answer",
    "reason",
)


def compute_score(
    data_source: str | None,
    solution_str: Any,
    ground_truth: Any,
    extra_info: Mapping | None = None,
    **kwargs: Any,
) -> dict:
    """verl's custom reward function: ``{"score": float, "acc": ..., "process": ..., ...}``.

    ``ground_truth`` is ``{"answer": "B", "trace": [...], "options": [...]}`` or its JSON string; ``kwargs``
    override :class:`RewardConfig` fields (alpha, weights, max_jump, gate_process, ...).
    """
    config = resolve_config(**kwargs)
    load_models(config)
    return score_solution(solution_str, prepare_reference(ground_truth, config), config, extra_info)


def _score(
    text: str, ref: Reference, config: RewardConfig, extra_info: Mapping | None
) -> tuple[dict, Alignment]:
    truth = ref.truth
    steps = segment(text, ref, config)
    blocks = answer_blocks(text, limit=MAX_ANSWER_BLOCKS + 1)
    pred = parse_answer(blocks, truth.answer, truth.options) if len(blocks) <= MAX_ANSWER_BLOCKS else None
    acc = float(is_correct(pred, truth.answer, truth.options))
    fmt = format_ok(text, steps)

    alignment = align_steps(steps, ref, config)
    distance = alignment.distance
    normalized = alignment.normalized_distance
    process = process_reward(normalized, config.alpha)
    padding = penalties.padding(steps, alignment.aligned_similarity, config)
    paid = process if (acc or not config.gate_process) else 0.0
    score = config.acc_weight * acc + config.format_weight * fmt + config.process_weight * paid
    score -= config.padding_weight * padding

    result = {
        "score": 0.0,
        "acc": acc,
        "format": float(fmt),
        "process": process,
        "padding": padding,
        "dtw_distance": float(distance),
        "dtw_normalized": normalized,
        "n_pred_steps": len(steps),
        "n_ref_steps": ref.n_steps,
        "pred_answer": pred or "",
        "reason": _reasons(text, blocks, pred, fmt, len(steps)),
    }
    observers = registry.observers()
    if config.extra_terms or observers:
        ctx = TermContext(
            text, steps, truth, alignment if steps else None, pred, acc, float(fmt), process, extra_info
        )
        for name, weight in config.extra_terms:
            value = float(registry.reward_term(name, config)(ctx))
            result[name] = value
            score += weight * value
    result["score"] = score
    if observers:
        observers(result=result, ctx=ctx, config=config)
    return result, alignment


def process_reward(normalized_distance: float, alpha: float) -> float:
    """T(D) = (exp(-alpha D) - exp(-alpha)) / (1 - exp(-alpha)): T(0) = 1, T(1) = 0, sharper as alpha grows;
    alpha = 0 is the straight line 1 - D and a negative alpha bends it the other way (lenient)."""
    d = min(1.0, max(0.0, normalized_distance))
    if abs(alpha) < 1e-9:
        return 1.0 - d
    # alpha is within [-100, 100] (config.MAX_ALPHA), far from exp()'s overflow at 709; the paper preset needs
    # exactly this expression
    return (math.exp(-alpha * d) - math.exp(-alpha)) / (1.0 - math.exp(-alpha))


@dataclass(frozen=True)
class TermContext:
    """What a plugin reward term sees."""

    solution: str
    steps: list[str]
    truth: GroundTruth
    alignment: Alignment | None
    pred_answer: str | None
    acc: float
    format: float
    process: float
    extra_info: Mapping | None


def _reasons(text: str, blocks: list[str], pred: str | None, fmt: bool, n_steps: int) -> str:
    reasons = []
    if not text.strip():
        reasons.append("empty_output")
    elif not blocks:
        reasons.append("truncated_answer" if ANSWER_OPEN in text else "no_answer")
    elif pred is None:
        reasons.append("multiple_answers" if len(blocks) > 1 else "unreadable_answer")
    if text.strip() and not n_steps:
        reasons.append("no_steps")
    if text.strip() and not fmt:
        reasons.append("bad_format")
    return ",".join(reasons) or "ok"


def _as_text(solution: Any) -> str:
    if isinstance(solution, str):
        return solution
    if isinstance(solution, bytes):
        return solution.decode("utf-8", errors="replace")
    return "" if solution is None else str(solution)


def _failed(ref: Reference, config: RewardConfig, error: BaseException) -> dict:
    log.warning("moss reward: scoring a model output failed; it gets 0 (%r)", error, exc_info=True)
    result = dict.fromkeys(RESULT_KEYS, 0.0)
    result.update(
        n_pred_steps=0, n_ref_steps=ref.n_steps, pred_answer="", reason=f"error:{type(error).__name__}"
    )
    result["dtw_distance"], result["dtw_normalized"] = float(ref.n_steps), 1.0
    for name, _ in config.extra_terms:
        result[name] = 0.0
    return result


def _score_guarded(solution: Any, reference: Reference, config: RewardConfig, extra_info: Mapping | None):
    try:
        return _score(_as_text(solution), reference, config, extra_info)
    except Exception as e:  # a bug must not kill a training step; it is logged and visible in "reason"
        return _failed(reference, config, e), align_steps([], reference, config)


def score_solution(
    solution: Any, reference: Reference, config: RewardConfig, extra_info: Mapping | None = None
) -> dict:
    """Score one model output against a prepared reference; never raises on the output."""
    return _score_guarded(solution, reference, config, extra_info)[0]


def load_models(config: RewardConfig) -> None:
    """Load the models the configuration scores with (the "facts" similarity's word vectors, the embedding
    model) before scoring, so a missing package or model fails loudly, not per rollout."""
    if config.similarity == "facts":
        static_vectors.load(static_vectors.STATIC_MODEL)
    if config.semantic_weight:
        semantic.model(config.embedding_model)


def score_and_align(
    solution: Any, ground_truth: Any, config: RewardConfig | None = None
) -> tuple[dict, Alignment]:
    """:func:`compute_score`'s result and the alignment it was computed from (one segmentation, one alignment)."""
    config = config or RewardConfig()
    load_models(config)
    return _score_guarded(solution, prepare_reference(ground_truth, config), config, None)
