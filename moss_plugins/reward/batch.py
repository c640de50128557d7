"""Scoring many rollouts at once, as verl's reward manager and the evaluation do: each distinct reference (a GRPO
group shares one) is prepared once, and with ``semantic_weight`` every step text of the batch is embedded in one
call. Each rollout's score is :func:`.score.score_solution`'s, exactly as :func:`.score.compute_score` gives it."""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from . import semantic
from .config import RewardConfig, resolve_config
from .ground_truth import cache_key
from .reference import Reference, prepare_reference, segment
from .score import _as_text, load_models, score_solution


def steps_or_none(solution: Any, ref: Reference, config: RewardConfig) -> list[str]:
    """The steps of ``solution``, or none when a (plugin) segmenter fails: only to gather texts to embed ahead
    of scoring, which then reports the failure for that rollout."""
    try:
        return segment(_as_text(solution), ref, config)
    except Exception:  # a broken plugin segmenter: scoring reports it for this rollout
        return []


def _batch_key(truth: Any) -> Any:
    """What tells a batch's references apart: their content, never their id(), since a datasets column or a
    generator hands out fresh (or refilled) dicts and a freed dict's id comes back for a later row. A pickle, not
    :func:`cache_key`'s JSON: it is faithful to types and ten times faster, and it runs once per rollout."""
    if isinstance(truth, (str, bytes, Reference)):
        return truth
    try:
        return pickle.dumps(truth, pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: the JSON key, or the GroundTruthError that says why it is unusable
        return cache_key(truth)


def score_batch(
    solutions: Sequence[Any],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping | None] | None = None,
    **kwargs: Any,
) -> list[dict]:
    """Score many rollouts; each distinct reference (a GRPO group shares one) is parsed and tokenized once, and
    with ``semantic_weight`` every distinct step text of the batch is embedded in one batched call."""
    if len(solutions) != len(ground_truths):
        raise ValueError(f"{len(solutions)} solutions but {len(ground_truths)} ground truths")
    if extra_infos is not None and len(extra_infos) != len(solutions):
        raise ValueError(f"{len(solutions)} solutions but {len(extra_infos)} extra_infos")
    config = resolve_config(**kwargs)
    load_models(config)
    prepared: dict[Any, Reference] = {}
    refs = []
    for truth in ground_truths:
        key = _batch_key(truth)
        ref = prepared.get(key)
        if ref is None:
            ref = prepared[key] = prepare_reference(truth, config)
        refs.append(ref)
    if config.semantic_weight:  # one batched encode of every distinct step text of the batch
        texts = [t for ref in prepared.values() for t in ref.truth.step_texts]
        texts += [t for solution, ref in zip(solutions, refs) for t in steps_or_none(solution, ref, config)]
        semantic.prefetch(config.embedding_model, texts)
    return [
        score_solution(solution, ref, config, extra_infos[k] if extra_infos is not None else None)
        for k, (solution, ref) in enumerate(zip(solutions, refs))
    ]
