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
from dataclasses import dataclass

import numpy as np
from numba import njit

from .lexicon import FACT, SCAFFOLD, SCAFFOLD_WEIGHT, words

CONTRADICTION = 0.5  # factor per contradicted fact


def _weights(kinds: np.ndarray, fact_weight: float) -> np.ndarray:
    return np.where(kinds == FACT, fact_weight, np.where(kinds == SCAFFOLD, SCAFFOLD_WEIGHT, 1.0))


@njit(cache=True, nogil=True)
def _bag_and_lcs(r, rw, p):
    """Weighted multiset intersection and weighted LCS of two id sequences (-1 matches nothing)."""
    n, m = r.size, p.size
    rs = np.sort(r)
    ps = np.sort(p)
    order_r = np.argsort(r)
    bag = 0.0  # a word's weight follows from its id, so either side's weight will do
    i = 0
    j = 0
    while i < n and j < m:
        if rs[i] < 0:
            i += 1
        elif ps[j] < 0 or ps[j] < rs[i]:
            j += 1
        elif rs[i] < ps[j]:
            i += 1
        else:
            bag += rw[order_r[i]]
            i += 1
            j += 1
    prev = np.zeros(m + 1)
    cur = np.zeros(m + 1)
    for a in range(n):
        x = r[a]
        for b in range(m):
            best = max(prev[b + 1], cur[b])
            if x >= 0 and p[b] == x:
                best = max(best, prev[b] + rw[a])
            cur[b + 1] = best
        prev, cur = cur, prev
    return bag, prev[m]


@njit(cache=True, nogil=True)
def _fact_overlap(r, rf, p, pf):
    """Number of fact tokens the two steps share (as a multiset)."""
    rs = np.sort(r[rf])
    ps = np.sort(p[pf])
    i = 0
    j = 0
    c = 0
    while i < rs.size and j < ps.size:
        if rs[i] < 0:
            i += 1
        elif ps[j] < 0 or ps[j] < rs[i]:
            j += 1
        elif rs[i] < ps[j]:
            i += 1
        else:
            c += 1
            i += 1
            j += 1
    return c


@njit(cache=True, nogil=True)
def _matrix(r_ids, r_w, r_fact, r_off, p_ids, p_w, p_fact, p_off, contradiction):
    n_ref = r_off.size - 1
    n_pred = p_off.size - 1
    out = np.zeros((n_ref, n_pred))
    for i in range(n_ref):
        r = r_ids[r_off[i] : r_off[i + 1]]
        rw = r_w[r_off[i] : r_off[i + 1]]
        rf = r_fact[r_off[i] : r_off[i + 1]]
        wr = rw.sum()
        for j in range(n_pred):
            p = p_ids[p_off[j] : p_off[j + 1]]
            pw = p_w[p_off[j] : p_off[j + 1]]
            pf = p_fact[p_off[j] : p_off[j + 1]]
            total = wr + pw.sum()
            if total <= 0:
                continue
            bag, lcs = _bag_and_lcs(r, rw, p)
            sim = (bag + lcs) / total  # mean of the two F1s, 2x/(wr+wp) each
            shared = _fact_overlap(r, rf, p, pf)
            wrong = min(rf.sum() - shared, pf.sum() - shared)
            for _ in range(wrong):
                sim *= contradiction
            out[i, j] = 1.0 if sim > 1.0 - 1e-12 else sim  # a copy is exactly 1, whatever the summation order
    return out


@dataclass(frozen=True, eq=False)
class FactIndex:
    """A reference's steps as canonical word ids and kinds (built once per reference)."""

    vocab: dict
    ids: np.ndarray
    kinds: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls, ref_steps: Sequence[str]) -> FactIndex:
        vocab: dict = {}
        ids, kinds, offsets = [], [], [0]
        for step in ref_steps:
            tokens = words(step)
            ids += [vocab.setdefault(w, len(vocab)) for w, _ in tokens]
            kinds += [k for _, k in tokens]
            offsets.append(len(ids))
        return cls(vocab, np.array(ids, np.int64), np.array(kinds, np.int64), np.array(offsets, np.int64))

    def matrix(self, pred_steps: Sequence[str], fact_weight: float) -> np.ndarray:
        """[n_ref, n_pred] similarity in [0, 1]."""
        ids, kinds, offsets = [], [], [0]
        get = self.vocab.get
        for step in pred_steps:
            tokens = words(step)
            ids += [get(w, -1) for w, _ in tokens]
            kinds += [k for _, k in tokens]
            offsets.append(len(ids))
        p_kinds = np.array(kinds, np.int64)
        return _matrix(
            self.ids, _weights(self.kinds, fact_weight), self.kinds == FACT, self.offsets,
            np.array(ids, np.int64), _weights(p_kinds, fact_weight), p_kinds == FACT, np.array(offsets, np.int64),
            CONTRADICTION,
        )
