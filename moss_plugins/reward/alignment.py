"""How a model trace lines up with a reference: the step similarity (:mod:`.similarity`), the reference's steps in
the order to align them, the alignment (:mod:`.dtw`) and the penalties added to its distance (:mod:`.penalties`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RewardConfig
from .dtw import _dtw, monotone
from .penalties import distance_penalty
from .reference import Reference
from .similarity import RESTATES, step_similarity

_NO_PATH = np.zeros(0, np.int64)


@dataclass(frozen=True)
class Alignment:
    """How a model trace lines up with a reference: for reports, metrics and pictures."""

    pred_steps: list[str]
    ref_steps: list[str]
    similarity: np.ndarray  # [n_ref, n_pred]
    distance: float
    path_rows: np.ndarray  # the path's cells as two index arrays (the scorer needs no Python tuples)
    path_cols: np.ndarray
    order: np.ndarray | None = None  # the order the reference steps were aligned in (:func:`time_order`)

    @property
    def aligned_similarity(self) -> np.ndarray:
        """The similarity with its rows in the order they were aligned in."""
        return self.similarity if self.order is None else self.similarity[self.order]

    @property
    def path(self) -> list[tuple[int, int]]:
        """The (reference step, predicted step) cells of the best path, from start to end."""
        return list(zip(self.path_rows.tolist(), self.path_cols.tolist()))

    @property
    def normalized_distance(self) -> float:
        """The distance per reference step, within [0, 1]: what the process reward is a function of."""
        return min(1.0, max(0.0, self.distance / len(self.ref_steps)))


def align_steps(steps: list[str], ref: Reference, config: RewardConfig) -> Alignment:
    """Similarity matrix and alignment of the steps (no steps: every reference step unmatched, cost 1)."""
    if not steps:
        return Alignment(
            [], ref.truth.step_texts, np.zeros((ref.n_steps, 0)), float(ref.n_steps), _NO_PATH, _NO_PATH
        )
    sim, flipped = step_similarity(steps, ref, config)
    order = time_order(sim, ref) if config.time_order else None
    aligned, flips = (
        (sim, flipped) if order is None else (sim[order], None if flipped is None else flipped[order])
    )
    cost = np.maximum(1.0 - aligned, 0.0)
    if config.alignment == "dtw":
        distance, rows, cols = _dtw(cost, config.max_jump)
    else:
        distance, rows, cols = monotone(cost)
    if config.order_penalty or config.negation_penalty:
        distance += distance_penalty(aligned, rows, cols, flips, config)
    if order is not None:
        rows = order[rows]
    return Alignment(steps, ref.truth.step_texts, sim, float(distance), rows, cols, order)


def time_order(sim: np.ndarray, ref: Reference) -> np.ndarray | None:
    """The order in which to align the reference's steps: as listed, except that steps over the same span
    (the reference's times do not order them) take the order in which the prediction states them (the column
    of their best match, for those it restates). None when nothing moves."""
    if not ref.together:
        return None
    order = np.arange(sim.shape[0])
    for lo, hi in ref.together:
        block = sim[lo:hi]
        stated = np.flatnonzero(block.max(axis=1) >= RESTATES)
        if stated.size > 1:
            slots = lo + stated
            order[slots] = slots[np.argsort(block[stated].argmax(axis=1), kind="stable")]
    return None if np.array_equal(order, np.arange(sim.shape[0])) else order
