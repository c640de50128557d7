"""The "facts" step similarity (the default): weighted word overlap and order, facts first, negation seen.

Each step becomes canonical words with weights (:mod:`.lexicon`: facts ``fact_weight``, content words 1,
scaffolding little). The similarity of a reference and a predicted step is the mean of two weighted F1s: of the
bags of words (a paraphrase may reorder a step's clauses) and of their longest common subsequence ("green to
yellow" is not "yellow to green"). Then:

* each *contradicted* fact -- the reference step has a fact the prediction lacks while the prediction has one
  the reference step lacks ("red" for "blue", "5 s" for "3 s") -- halves it: a wrong fact costs more than a
  left-out one, so another video's trace in the same template scores low;

Polarity ("does not turn yellow" is not "turns yellow") and stated times are checked for every similarity by
the scorer (``polarity``, ``time_weight``).

Like ROUGE, a reference's steps are indexed once (ids from the reference's vocabulary; a predicted word the
reference lacks can match nothing) and the matrix is one compiled kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .lexicon import CONTENT, FACT, SCAFFOLD, SCAFFOLD_WEIGHT, analyse

CONTRADICTION = 0.5  # factor per contradicted fact


def _weights(kinds: np.ndarray, fact_weight: float) -> np.ndarray:
    table = np.empty(3)
    table[SCAFFOLD], table[CONTENT], table[FACT] = SCAFFOLD_WEIGHT, 1.0, fact_weight
    return table[kinds]


@njit(cache=True, nogil=True)
def _sorted_steps(ids, w, fact, off):
    """Per step, its ids sorted (with their weights) and its fact ids sorted, in flat arrays with ``off``."""
    ids_sorted = np.empty_like(ids)
    w_sorted = np.empty_like(w)
    facts_sorted = np.full(ids.size, -1)  # per step: -1 (matches nothing), then its fact ids in order
    for s in range(off.size - 1):
        lo, hi = off[s], off[s + 1]
        order = np.argsort(ids[lo:hi], kind="mergesort")
        ids_sorted[lo:hi] = ids[lo:hi][order]
        w_sorted[lo:hi] = w[lo:hi][order]
        k = hi - fact[lo:hi].sum()
        for q in range(hi - lo):
            if fact[lo + order[q]]:
                facts_sorted[k] = ids_sorted[lo + q]
                k += 1
    return ids_sorted, w_sorted, facts_sorted


@njit(cache=True, nogil=True)
def _merge(a, aw, b, weighted):
    """Multiset intersection of two sorted id arrays (ids < 0 match nothing): summed weight of ``a``'s side, or
    the count when not ``weighted``."""
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
            total += aw[i] if weighted else 1.0
            i += 1
            j += 1
    return total


@njit(cache=True, nogil=True)
def _lcs(r, rw, p, prev, cur):
    """Weighted longest common subsequence (a word's weight is ``rw``; -1 matches nothing)."""
    m = p.size
    prev[: m + 1] = 0.0
    cur[: m + 1] = 0.0
    for a in range(r.size):
        x = r[a]
        for b in range(m):
            best = max(prev[b + 1], cur[b])
            if x >= 0 and p[b] == x and prev[b] + rw[a] > best:
                best = prev[b] + rw[a]
            cur[b + 1] = best
        prev, cur = cur, prev
    return prev[m]


@njit(cache=True, nogil=True)
def _matrix(r_ids, r_w, r_fact, r_off, rs, rsw, rf, p_ids, p_w, p_fact, p_off, contradiction):
    """``rs, rsw, rf``: the reference's ``_sorted_steps`` (prepared once per reference and fact weight)."""
    n_ref = r_off.size - 1
    n_pred = p_off.size - 1
    ps, _, pf = _sorted_steps(p_ids, p_w, p_fact, p_off)
    longest = 0
    for j in range(n_pred):
        longest = max(longest, p_off[j + 1] - p_off[j])
    prev = np.zeros(longest + 1)
    cur = np.zeros(longest + 1)
    out = np.zeros((n_ref, n_pred))
    for i in range(n_ref):
        lo, hi = r_off[i], r_off[i + 1]
        wr = r_w[lo:hi].sum()
        nfr = r_fact[lo:hi].sum()
        for j in range(n_pred):
            plo, phi = p_off[j], p_off[j + 1]
            total = wr + p_w[plo:phi].sum()
            if total <= 0:
                continue
            bag = _merge(rs[lo:hi], rsw[lo:hi], ps[plo:phi], True)
            lcs = _lcs(r_ids[lo:hi], r_w[lo:hi], p_ids[plo:phi], prev, cur)
            sim = (bag + lcs) / total  # the mean of two F1s, 2x / (wr + wp) each
            shared = int(_merge(rf[lo:hi], rsw[lo:hi], pf[plo:phi], False))
            wrong = min(nfr - shared, p_fact[plo:phi].sum() - shared)
            for _ in range(wrong):
                sim *= contradiction
            out[i, j] = 1.0 if sim > 1.0 - 1e-12 else sim  # a copy is exactly 1, whatever the summation order
    return out


@dataclass(frozen=True, eq=False)
class FactIndex:
    """A reference's steps as canonical word ids and kinds (built once per reference), and per fact weight their
    weights and sorted forms (made by the first rollout scored with that weight, not by every one)."""

    vocab: dict
    ids: np.ndarray
    kinds: np.ndarray
    offsets: np.ndarray
    _weighted: dict = field(default_factory=dict, repr=False)  # fact_weight -> the reference's _matrix arrays

    @classmethod
    def build(cls, ref_steps: Sequence[str]) -> FactIndex:
        vocab: dict = {}
        ids, kinds, offsets = [], [], [0]
        for step in ref_steps:
            canon, step_kinds, _ = analyse(step)
            ids += [vocab.setdefault(w, len(vocab)) for w in canon]
            kinds += step_kinds
            offsets.append(len(ids))
        return cls(vocab, np.array(ids, np.int64), np.array(kinds, np.int64), np.array(offsets, np.int64))

    def matrix(self, pred_steps: Sequence[str], fact_weight: float) -> np.ndarray:
        """[n_ref, n_pred] similarity in [0, 1]."""
        ids, kinds, offsets = [], [], [0]
        get = self.vocab.get
        for step in pred_steps:
            canon, step_kinds, _ = analyse(step)
            ids += [get(w, -1) for w in canon]
            kinds += step_kinds
            offsets.append(len(ids))
        p_kinds = np.array(kinds, np.int64)
        return _matrix(
            *self._reference_side(fact_weight),
            np.array(ids, np.int64), _weights(p_kinds, fact_weight), p_kinds == FACT, np.array(offsets, np.int64),
            CONTRADICTION,
        )

    def _reference_side(self, fact_weight: float) -> tuple:
        arrays = self._weighted.get(fact_weight)
        if arrays is None:  # two threads may both get here: they store equal arrays
            w, fact = _weights(self.kinds, fact_weight), self.kinds == FACT
            arrays = self._weighted[fact_weight] = (self.ids, w, fact, self.offsets,
                                                    *_sorted_steps(self.ids, w, fact, self.offsets))  # fmt: skip
        return arrays
