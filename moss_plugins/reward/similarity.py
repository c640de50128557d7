"""The step similarity the alignment reads, and everything the reward does to a similarity component's matrix.

A similarity component (``similarity=``: "facts", "rouge", "char3" or a plugin's, :mod:`.hookspecs`) returns s,
one value in [0, 1] per (reference step, predicted step): shape [n_ref, n_pred] (a plugin's values outside
[0, 1] are clipped and NaN counts as 0). The reward then rescales s, in this order, each only when configured:

1. ``semantic_weight`` w: s = (1 - w) s + w cos, with cos the embedding cosine of the two steps
   (:mod:`.semantic`, rescaled so unrelated steps land near 0).
2. ``time_weight``: s times a factor in [1 - time_weight, 1] that falls with the share of the predicted step's
   stated times that miss the reference step's span and stated times (:func:`.timing.time_factor`); a step that
   states no time keeps s.
3. ``polarity``: where one step denies what the other asserts (:func:`.lexicon.conflicts`: "the door does not
   open" or "stays closed" against "the door opens"; looked at only where s >= :data:`ABOUT_THE_SAME`), s
   becomes 0 when one restates the other so (s >= :data:`RESTATES`), else s (1 - s): steps that share little
   keep some of it. A negation of another claim ("nothing is left in the cup" for "the cup is empty") changes
   nothing.

The result is what the alignment (:mod:`.alignment`) turns into the cost 1 - s and the penalties
(:mod:`.penalties`) read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import registry, semantic
from .config import RewardConfig
from .lexicon import analyse, conflicts
from .reference import Reference
from .timing import time_factor

# Step similarity below which two steps are about different things: whether one denies what the other asserts
# changes nothing there (and is not looked up).
ABOUT_THE_SAME = 0.25
# Step similarity from which a predicted step counts as restating a reference step (negated, or out of place).
RESTATES = 0.5


def step_similarity(
    steps: list[str], ref: Reference, config: RewardConfig
) -> tuple[np.ndarray, np.ndarray | None]:
    """[n_ref, n_pred]: the configured similarity, rescaled as the module says; also, for the cells where the
    polarity conflicts (None when none does), the similarity before that rescaling (what a negated step
    contradicts)."""
    sim = registry.similarity(config).matrix(ref.prepared, steps, config)
    if config.semantic_weight:
        w = config.semantic_weight
        sim = (1.0 - w) * sim + w * semantic.matrix(config.embedding_model, ref.truth.step_texts, steps)
    if config.time_weight:
        factor = time_factor(ref.times, steps, config.time_weight)
        if factor is not None:
            sim = sim * factor
    if not config.polarity:
        return sim, None
    pred = [analyse(s) for s in steps]
    flipped = conflicting(ref.claims, pred, sim)
    if flipped is None:
        return sim, None
    kept = np.where(sim >= RESTATES, 0.0, sim * (1.0 - sim))
    return np.where(flipped, kept, sim), np.where(flipped, sim, 0.0)


def conflicting(ref: Sequence, pred: Sequence, sim: np.ndarray) -> np.ndarray | None:
    """[n_ref, n_pred]: where one of two steps about the same thing denies what the other asserts; None where
    none does (most rollouts deny nothing, and are not looked at further)."""
    pred_denies = np.fromiter((bool(a.denied) for a in pred), np.bool_, len(pred))
    ref_denies = np.fromiter((bool(a.denied) for a in ref), np.bool_, len(ref))
    if not pred_denies.any() and not ref_denies.any():
        return None
    out = np.zeros(sim.shape, np.bool_)
    rows, cols = np.nonzero((sim >= ABOUT_THE_SAME) & (ref_denies[:, None] | pred_denies[None, :]))
    for i, j in zip(rows.tolist(), cols.tolist()):
        out[i, j] = conflicts(ref[i], pred[j])
    return out if out.any() else None
