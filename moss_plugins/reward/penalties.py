"""What a trace pays beyond a poor alignment: steps stated out of order and steps negated (added to the alignment's
distance, in reference steps), and padding (text that no reference step accounts for, subtracted from the
score)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .config import RewardConfig
from .kernels import monotone_matching
from .similarity import RESTATES


def distance_penalty(
    sim: np.ndarray, rows: np.ndarray, cols: np.ndarray, flipped: np.ndarray | None, config: RewardConfig
) -> float:
    """What the trace asserts against the reference, in reference steps (added to the alignment's distance).

    Order: each predicted step that restates a reference step in the wrong place costs ``order_penalty`` times
    its similarity beyond what it is paid where it is (``_misplaced``). Negation: a predicted step that restates
    a reference step negated (similarity >= :data:`RESTATES` but for the polarity) costs ``negation_penalty``
    times its lead over its best same-polarity match ("the light does not turn red" against "it turns red").
    """
    total = 0.0
    if config.order_penalty:
        total += config.order_penalty * _misplaced(sim, rows, cols, RESTATES)
    if config.negation_penalty and flipped is not None:
        negated = flipped.max(axis=0)
        lead = np.where(negated >= RESTATES, negated - sim.max(axis=0), 0.0)
        total += config.negation_penalty * float(np.maximum(lead, 0.0).sum())
    return total


@njit(cache=True, nogil=True)
def _misplaced(sim, rows, cols, restates):
    """How much better the predicted steps restate a reference step (similarity >= ``restates``) away from
    where the alignment puts that step (outside the neighbouring reference steps' matches) than they are paid
    where they are: a reversed trace states every step, only in the wrong places; one that repeats itself to
    line every step up in some copy states the others out of order."""
    n_ref, n_pred = sim.shape
    first = np.full(n_ref, n_pred)
    last = np.full(n_ref, -1)
    paid = np.zeros(n_pred)
    for k in range(rows.size):
        first[rows[k]] = min(first[rows[k]], cols[k])
        last[rows[k]] = max(last[rows[k]], cols[k])
        paid[cols[k]] = max(paid[cols[k]], sim[rows[k], cols[k]])
    total = 0.0
    for j in range(n_pred):
        i = 0
        for q in range(1, n_ref):
            if sim[q, j] > sim[i, j]:
                i = q
        if sim[i, j] < restates or sim[i, j] <= paid[j]:
            continue
        lo = -1
        for q in range(i):
            lo = max(lo, last[q])
        hi = n_pred
        for q in range(i + 1, n_ref):
            hi = min(hi, first[q])
        if not lo < j < hi:
            total += sim[i, j] - paid[j]
    return total


def padding(steps: list[str], sim: np.ndarray, config: RewardConfig) -> float:
    """The padding penalty in [0, 1]: the larger of the filler's share of the trace and the share no reference
    step accounts for beyond ``padding_tolerance`` (:func:`padding_share`). ``sim`` is the similarity
    [n_ref, n_pred] in the order the alignment used."""
    unused = filler = 0.0
    if steps:
        related = (
            sim.max(axis=0) >= config.filler_similarity
            if config.filler_similarity
            else np.ones(len(steps), np.bool_)
        )
        lengths = np.fromiter((len(s) for s in steps), np.int64, len(steps))
        unused, filler = _unmatched_share(sim, lengths, related)
    return max(filler, padding_share(unused, config.padding_tolerance))


def padding_share(unused: float, tolerance: float) -> float:
    """Penalty in [0, 1] for the share of the trace the alignment did not use, beyond the free tolerance (the
    scorer charges filler, steps related to no reference step, from its first character instead)."""
    return max(0.0, unused - tolerance) / (1.0 - tolerance)


@njit(cache=True, nogil=True)
def _unmatched_share(sim, lengths, related):
    """Shares of the trace's characters that no reference step accounts for: all of them, and those of filler,
    steps after the first aligned one that relate to no reference step (``related`` false: "Let me check
    again.", "The camera does not move."); a look around before the first aligned step is exploration.

    Each reference step accounts for at most one predicted step: a monotone one-to-one matching with the
    largest total similarity (a cell of similarity 0 never matches; on a tie a reference step is left unmatched
    before a predicted step). Repeating or restating steps, or adding unrelated ones, therefore only grows the
    unmatched share; a paraphrase of the reference leaves none.
    """
    total = lengths.sum()
    if total == 0:
        return 0.0, 0.0
    _, _, cols = monotone_matching(-sim, 0.0, True)
    matched = np.zeros(lengths.size, np.bool_)
    matched[cols] = True
    used = 0
    filler = 0
    started = False
    for k in range(lengths.size):
        if matched[k]:
            used += lengths[k]
            started = True
        elif started and not related[k]:
            filler += lengths[k]
    return 1.0 - used / total, filler / total
