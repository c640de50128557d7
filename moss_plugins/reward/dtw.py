"""Alignments of a reference trace with a predicted trace: the paper's subsequence DTW and a monotone matching.

Subsequence DTW (``alignment="dtw"``, the paper preset):

``cost[i, j]`` is the cost of matching reference step i with predicted step j. Every reference step is matched,
in order; the alignment may start and end anywhere along the predicted axis (so exploratory text before and
after the gold path costs nothing). Moves into (i, j):

* (i-1, j-1) next reference step with the next predicted step,
* (i-1, j)   next reference step matched to the same predicted step,
* (i, j-1)   one reference step spread over several predicted steps (each adds its cost),
* (i-1, j-s) for s = 2..max_jump: the next reference step after skipping s-1 predicted steps (the paper's
  "jump step"; max_jump=1 is plain subsequence DTW).

Ties are broken in that order, and the alignment ends at the earliest best column, so paths are deterministic
and as short as the optimum allows. The (i-1, j) move lets one predicted step stand for any number of reference
steps: a trace that says everything in one step, or in reverse order, can still line up cheaply.

Monotone matching (``alignment="monotone"``, the default): each reference step is matched with at most one
predicted step and each predicted step with at most one reference step, in order; a reference step left
unmatched costs 1, predicted steps in between are skipped for free (the padding term charges for them). The
distance is again in [0, n_ref], so D = distance / n_ref; a reversed trace can match one step of it, not all
(:func:`.kernels.monotone_matching`, which the padding penalty's matching shares).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import monotone_matching

_DIAG, _UP, _LEFT = 1, -1, -2  # back-pointers; a jump of s stores s (>= 2)
UNMATCHED = 1.0  # the monotone matching's cost of a reference step left unmatched


@njit(cache=True, nogil=True)
def _dtw(cost, max_jump):
    n, m = cost.shape
    acc = np.empty((n, m))
    move = np.zeros((n, m), np.int64)
    for j in range(m):
        acc[0, j] = cost[0, j]
    for i in range(1, n):
        for j in range(m):
            best = np.inf
            step = 0
            if j >= 1:
                best = acc[i - 1, j - 1]
                step = _DIAG
            for s in range(2, min(max_jump, j) + 1):  # a jump past the trace's start is no jump
                if acc[i - 1, j - s] < best:
                    best = acc[i - 1, j - s]
                    step = s
            if acc[i - 1, j] < best:
                best = acc[i - 1, j]
                step = _UP
            if j >= 1 and acc[i, j - 1] < best:
                best = acc[i, j - 1]
                step = _LEFT
            acc[i, j] = cost[i, j] + best
            move[i, j] = step
    end = 0
    for j in range(1, m):
        if acc[n - 1, j] < acc[n - 1, end]:
            end = j
    # Back-track; the path has at most n + m - 1 cells.
    rows = np.empty(n + m, np.int64)
    cols = np.empty(n + m, np.int64)
    i = n - 1
    j = end
    k = 0
    while True:
        rows[k] = i
        cols[k] = j
        k += 1
        if i == 0:
            break
        step = move[i, j]
        if step == _DIAG:
            i -= 1
            j -= 1
        elif step == _UP:
            i -= 1
        elif step == _LEFT:
            j -= 1
        else:
            i -= 1
            j -= step
    # The distance is re-summed along the path so that it is exactly the path's cost.
    total = 0.0
    for q in range(k):
        total += cost[rows[q], cols[q]]
    return total, rows[:k][::-1].copy(), cols[:k][::-1].copy()


def monotone(cost: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The monotone matching of a checked ``cost`` (the scorer's); on a tie it leaves a predicted step unmatched
    before a reference step."""
    return monotone_matching(cost, UNMATCHED, False)


def monotone_alignment(cost: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Best one-to-one, order-preserving matching of ``cost`` [n_ref, n_pred] (values in [0, 1]): (its
    distance, the matched cells as two index arrays)."""
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0:
        raise ValueError(f"cost must be a 2-D matrix [n_ref, n_pred] with n_ref >= 1; got shape {cost.shape}")
    if not np.all(np.isfinite(cost)) or np.any(cost < 0) or np.any(cost > 1):
        raise ValueError("cost must be finite and in [0, 1]")
    return monotone(cost)


def subsequence_dtw_arrays(cost: np.ndarray, max_jump: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    """Like :func:`subsequence_dtw`, with the path as two index arrays (no Python tuples)."""
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"cost must be a non-empty 2-D matrix [n_ref, n_pred]; got shape {cost.shape}")
    if not np.all(np.isfinite(cost)) or np.any(cost < 0):
        raise ValueError("cost must be finite and non-negative")
    if max_jump < 1:
        raise ValueError(f"max_jump must be >= 1; got {max_jump}")
    return _dtw(cost, int(max_jump))


def subsequence_dtw(cost: np.ndarray, max_jump: int = 1) -> tuple[float, list[tuple[int, int]]]:
    """Best subsequence alignment of ``cost`` [n_ref, n_pred]: (summed cost of its cells, its (i, j) cells)."""
    distance, rows, cols = subsequence_dtw_arrays(cost, max_jump)
    return float(distance), list(zip(rows.tolist(), cols.tolist()))
