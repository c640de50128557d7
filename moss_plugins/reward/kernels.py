"""The compiled building blocks the step similarities and the scorer share, each written once: a weighted longest
common subsequence (and its bit-parallel unit-weight case), the intersection of two sorted arrays, and the best
order-preserving one-to-one matching.

ROUGE (:mod:`.rouge`), the "facts" similarity (:mod:`.facts`), the monotone alignment (:mod:`.dtw`) and the
padding penalty (:mod:`.penalties`) call them, mostly from their own kernels. Ids are integers from a
reference's vocabulary; an id below 0 (a predicted word the reference lacks) matches nothing. numba's cache would
not see an edit here in its callers' cached code; :mod:`.jit_cache` drops their caches when this file changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def lcs(r, rw, p, pw, prev, cur):
    """Weighted longest common subsequence of the id arrays ``r`` and ``p``: a common word weighs ``rw`` (its
    weight in ``r``) times ``pw`` (in ``p``); with all weights 1 it is the LCS length. ``prev`` and ``cur`` are
    scratch rows of at least ``p.size + 1``, allocated once by a caller that compares many pairs."""
    m = p.size
    prev[: m + 1] = 0.0
    cur[: m + 1] = 0.0
    for a in range(r.size):
        x = r[a]
        for b in range(m):
            best = max(prev[b + 1], cur[b])
            if x >= 0 and p[b] == x and prev[b] + rw[a] * pw[b] > best:
                best = prev[b] + rw[a] * pw[b]
            cur[b + 1] = best
        prev, cur = cur, prev
    return prev[m]


@njit(cache=True, nogil=True)
def lcs_bits(mask_row, ids, lo, hi, m):
    """The unit-weight special case of :func:`lcs` for a reference of ``m`` <= 64 tokens (Hyyro 2004): the LCS length
    of ``ids[lo:hi]`` against it, from ``mask_row`` (per id, the bit mask of its positions in the reference). It
    makes ROUGE's kernel 1.7 times as fast as :func:`lcs`; it counts words, so it cannot weigh them."""
    v = ~np.uint64(0)
    for k in range(lo, hi):
        t = ids[k]
        if t >= 0:
            u = v & mask_row[t]
            v = (v + u) | (v - u)
    zeros = ~v
    if m < 64:
        zeros &= (np.uint64(1) << np.uint64(m)) - np.uint64(1)
    count = 0
    while zeros != 0:
        zeros &= zeros - np.uint64(1)
        count += 1
    return count


@njit(cache=True, nogil=True)
def intersection(a, b, aw=None, bw=None):
    """Size of the multiset intersection of two sorted id arrays (ids < 0 in ``a`` match nothing); with weights,
    the sum of ``aw[i] * bw[j]`` over the matched pairs instead."""
    i = 0
    j = 0
    total = 0.0
    while i < a.size and j < b.size:
        if a[i] < 0:
            i += 1
        elif b[j] < a[i]:
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            if aw is None:
                total += 1.0
            else:
                total += aw[i] * bw[j]
            i += 1
            j += 1
    return total


@njit(cache=True, nogil=True)
def monotone_matching(cost, miss, rows_first):
    """The order-preserving one-to-one matching of ``cost``'s rows with its columns of least total: the matched
    cells' cost plus ``miss`` per row left unmatched (a column left unmatched is free). Returns that total and
    the matched cells as two index arrays, in order.

    Among equally good matchings the back-track leaves a column unmatched before a row (``rows_first``: a row
    before a column), and matches a cell only when neither is as good. The alignment (:mod:`.dtw`) and the
    padding penalty (:mod:`.penalties`) each keep the tie rule they were introduced with, so that their results
    stay what they were; a cell of no value is never matched under either.
    """
    n, m = cost.shape
    acc = np.empty((n + 1, m + 1))
    for j in range(m + 1):
        acc[0, j] = 0.0
    for i in range(1, n + 1):
        acc[i, 0] = i * miss
        for j in range(1, m + 1):
            # row i-1 unmatched, column j-1 unmatched, or the two matched (a NaN cost, last, is never taken)
            acc[i, j] = min(acc[i - 1, j] + miss, acc[i, j - 1], acc[i - 1, j - 1] + cost[i - 1, j - 1])
    rows = np.empty(min(n, m), np.int64)
    cols = np.empty(min(n, m), np.int64)
    k = 0
    i, j = n, m
    while i > 0 and j > 0:
        if rows_first and acc[i, j] == acc[i - 1, j] + miss:
            i -= 1
        elif acc[i, j] == acc[i, j - 1]:
            j -= 1
        elif acc[i, j] == acc[i - 1, j] + miss:
            i -= 1
        else:
            rows[k] = i - 1
            cols[k] = j - 1
            k += 1
            i -= 1
            j -= 1
    return acc[n, m], rows[:k][::-1].copy(), cols[:k][::-1].copy()
