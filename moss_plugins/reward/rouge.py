"""ROUGE-1/2/L F1 between reasoning steps, computed in compiled code.

Every step is tokenized once (one regex pass for all steps of a text) and mapped to integer ids from the
reference's vocabulary; a predicted token the reference lacks can match nothing, so it becomes -1 and the
vocabulary never grows. The kernel then needs no strings: n-gram overlaps are intersections of sorted id arrays
(:func:`.kernels.intersection`), and the LCS is Hyyro's bit-parallel algorithm over per-token position masks for
reference steps of up to 64 tokens, the dynamic programme the "facts" similarity also uses (:func:`.kernels.lcs`)
for longer ones. The bit-parallel LCS (:func:`.kernels.lcs_bits`) is ROUGE's alone: it counts words, so it
cannot weigh them as "facts" does, and it makes the ROUGE kernel 1.7 times as fast as the dynamic programme would.

F1 follows ``rouge-score`` operation for operation, so on ASCII text it is bitwise equal to
``RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np
from numba import njit

from .kernels import intersection, lcs, lcs_bits
from .tokenize import STEP_SEPARATOR, tokenize_steps

_SEP = -2  # id of STEP_SEPARATOR
_UNK = -1  # a predicted token that is not in the reference

DEFAULT_WEIGHTS = (1 / 3, 1 / 3, 1 / 3)


@njit(cache=True, nogil=True)
def _split(flat):
    """Separator-terminated id stream -> (ids, offsets)."""
    n_steps = 0
    for x in flat:
        if x == _SEP:
            n_steps += 1
    off = np.zeros(n_steps + 1, np.int64)
    ids = np.empty(flat.size - n_steps, np.int64)
    k = 0
    s = 0
    for x in flat:
        if x == _SEP:
            s += 1
            off[s] = k
        else:
            ids[k] = x
            k += 1
    return ids, off


@njit(cache=True, nogil=True)
def _ngrams(ids, lo, hi, vocab_size):
    """Sorted known unigram ids and sorted bigram keys of ids[lo:hi]."""
    n = hi - lo
    uni = np.empty(n, np.int64)
    nu = 0
    for k in range(lo, hi):
        if ids[k] >= 0:
            uni[nu] = ids[k]
            nu += 1
    bi = np.empty(max(n - 1, 0), np.int64)
    nb = 0
    for k in range(lo, hi - 1):
        a = ids[k]
        b = ids[k + 1]
        if a >= 0 and b >= 0:
            bi[nb] = a * vocab_size + b
            nb += 1
    return np.sort(uni[:nu]), np.sort(bi[:nb])


@njit(cache=True, nogil=True)
def _f1(hits, n_pred, n_ref):
    precision = hits / max(n_pred, 1)
    recall = hits / max(n_ref, 1)
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


@njit(cache=True, nogil=True)
def _index(flat, vocab_size):
    ids, off = _split(flat)
    n = off.size - 1
    uni = np.empty(ids.size, np.int64)
    bi_off = np.zeros(n + 1, np.int64)
    for i in range(n):
        bi_off[i + 1] = bi_off[i] + max(off[i + 1] - off[i] - 1, 0)
    bi = np.empty(bi_off[n], np.int64)
    masks = np.zeros((n, max(vocab_size, 1)), np.uint64)
    for i in range(n):
        u, b = _ngrams(ids, off[i], off[i + 1], vocab_size)
        uni[off[i] : off[i + 1]] = u
        bi[bi_off[i] : bi_off[i + 1]] = b
        if off[i + 1] - off[i] <= 64:
            for k in range(off[i], off[i + 1]):
                masks[i, ids[k]] |= np.uint64(1) << np.uint64(k - off[i])
    return ids, off, uni, bi, bi_off, masks


@njit(cache=True, nogil=True)
def _f1_matrix(r_ids, r_off, r_uni, r_bi, r_bi_off, masks, vocab_size, pred_flat):
    """[n_ref, n_pred, 3] ROUGE-1/2/L F1 for every (reference step, predicted step) pair."""
    p_ids, p_off = _split(pred_flat)
    n_ref = r_off.size - 1
    n_pred = p_off.size - 1
    out = np.empty((n_ref, n_pred, 3))
    longest = 0
    for j in range(n_pred):
        longest = max(longest, p_off[j + 1] - p_off[j])
    prev = np.zeros(longest + 1)  # scratch rows and unit weights of lcs, for reference steps over 64 tokens
    cur = np.zeros(longest + 1)
    ones = np.ones(max(longest, r_ids.size))
    for j in range(n_pred):
        lo = p_off[j]
        hi = p_off[j + 1]
        n = hi - lo
        pu, pb = _ngrams(p_ids, lo, hi, vocab_size)
        for i in range(n_ref):
            m = r_off[i + 1] - r_off[i]
            out[i, j, 0] = _f1(intersection(r_uni[r_off[i] : r_off[i + 1]], pu), n, m)
            out[i, j, 1] = _f1(
                intersection(r_bi[r_bi_off[i] : r_bi_off[i + 1]], pb), max(n - 1, 0), max(m - 1, 0)
            )
            if m <= 64:
                common = lcs_bits(masks[i], p_ids, lo, hi, m)
            else:
                common = lcs(r_ids[r_off[i] : r_off[i + 1]], ones, p_ids[lo:hi], ones, prev, cur)
            out[i, j, 2] = _f1(common, n, m)
    return out


@dataclass(frozen=True, eq=False)
class RougeIndex:
    """A reference's steps tokenized once, ready to be compared with any number of predictions."""

    vocab: dict
    arrays: tuple  # (ids, offsets, sorted unigrams, sorted bigram keys, bigram offsets, LCS masks)

    @property
    def n_steps(self) -> int:
        return self.arrays[1].size - 1

    @classmethod
    def build(cls, ref_steps: Sequence[str]) -> RougeIndex:
        vocab = {STEP_SEPARATOR: _SEP}
        flat = np.array(
            [vocab.setdefault(t, len(vocab) - 1) for t in tokenize_steps(list(ref_steps))], dtype=np.int64
        )
        return cls(vocab, _index(flat, len(vocab) - 1))

    def f1s(self, pred_steps: Sequence[str]) -> np.ndarray:
        """[n_ref, n_pred, 3] F1 of ROUGE-1, ROUGE-2, ROUGE-L."""
        tokens = tokenize_steps(list(pred_steps))
        flat = np.fromiter(map(self.vocab.get, tokens, repeat(_UNK)), np.int64, len(tokens))
        return _f1_matrix(*self.arrays, len(self.vocab) - 1, flat)


@lru_cache(maxsize=32)
def normalized_weights(weights: tuple[float, float, float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            f"rouge_weights must be three non-negative numbers, not all zero; got {list(weights)!r}"
        )
    w = w / w.sum()
    w.flags.writeable = False
    return w


def rouge_f(a: str, b: str) -> tuple[float, float, float]:
    """(ROUGE-1, ROUGE-2, ROUGE-L) F1 of two texts (F1 is symmetric, so the order does not matter)."""
    r1, r2, rl = RougeIndex.build([b]).f1s([a])[0, 0]
    return float(r1), float(r2), float(rl)


def similarity_matrix(
    ref_steps: Sequence[str], pred_steps: Sequence[str], weights: Sequence[float] = DEFAULT_WEIGHTS
) -> np.ndarray:
    """[len(ref_steps), len(pred_steps)] weighted mean of ROUGE-1/2/L F1, in [0, 1]: a row per reference step,
    as everywhere in the reward (the reference's vocabulary is the one predicted tokens are looked up in)."""
    return RougeIndex.build(ref_steps).f1s(pred_steps) @ normalized_weights(tuple(weights))
