"""The "facts" step similarity (the default): weighted word overlap and order, facts first, negation seen.

Each step becomes canonical words with weights (:mod:`.lexicon`: facts ``fact_weight``, content words 1,
scaffolding little). The similarity of a reference and a predicted step is the mean of two weighted F1s: of the
bags of words (a paraphrase may reorder a step's clauses) and of their longest common subsequence ("green to
yellow" is not "yellow to green"). Then:

* each *contradicted* fact -- the reference step has a fact the prediction lacks while the prediction has one
  the reference step lacks ("red" for "blue", "5 s" for "3 s") -- halves it: a wrong fact costs more than a
  left-out one, so another video's trace in the same template scores low;
* a predicted content word the reference lacks counts as the reference's content word closest to it in static
  word vectors (:mod:`.static_vectors`, distilled from all-MiniLM-L6-v2), weighted by their cosine, when that is
  at least :data:`SYNONYM`: "halts" for "stops", "vehicle" for "car", "ascends" for "climbs". Facts (numbers,
  colours) and opposites never match this way: near in a vector space, they are different facts;
* a predicted *measure* (a number with a unit or decimals, read off the video) within the tolerance of one of
  the reference's measures (:func:`closeness`) counts as that measure, weighing less the further off it is
  ("23%" for "22%", "about 5 cm/s" for "5.3 cm/s"); counts, letters and colours match exactly;

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

from . import static_vectors
from .kernels import intersection, lcs
from .lexicon import CONTENT, FACT, SCAFFOLD, SCAFFOLD_WEIGHT, analyse

CONTRADICTION = 0.5  # factor per contradicted fact
SYNONYM = 0.45  # word-vector cosine from which a predicted content word may stand for a reference one
# Relative tolerance of a measure read off the video (stated times too, :func:`.timing.tolerance`), beyond the
# rounding of the numbers as written.
MEASURE_TOLERANCE = 0.05


def _resolution(number: str) -> float:
    """Half a unit of the last digit written: "5" stands for [4.5, 5.5), "5.3" for [5.25, 5.35)."""
    return 0.5 * 10.0 ** -(len(number) - number.index(".") - 1 if "." in number else 0)


def closeness(pred: str, ref: str) -> float:
    """How well a predicted measure agrees with a reference measure (canonical number strings): 1 when equal,
    falling to 0.5 at the tolerance, 0 beyond it (a contradicted fact)."""
    a, b = float(pred), float(ref)
    tolerance = max(MEASURE_TOLERANCE * abs(b), _resolution(pred), _resolution(ref)) + 1e-9
    return 1.0 - 0.5 * abs(a - b) / tolerance if abs(a - b) <= tolerance else 0.0


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
def _matrix(r_ids, r_w, r_fact, r_off, rs, rsw, rf, p_ids, p_w, p_close, p_fact, p_off, contradiction, full):
    """``rs, rsw, rf``: the reference's ``_sorted_steps`` (prepared once per reference and fact weight);
    ``p_close``: per predicted word, how closely it matches (1; less for a measure within tolerance, or the
    cosine of a word standing in for a reference word)."""
    n_ref = r_off.size - 1
    n_pred = p_off.size - 1
    ps, pcs, pf = _sorted_steps(p_ids, p_close, p_fact, p_off)
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
            bag = intersection(rs[lo:hi], ps[plo:phi], rsw[lo:hi], pcs[plo:phi])
            in_order = lcs(r_ids[lo:hi], r_w[lo:hi], p_ids[plo:phi], p_close[plo:phi], prev, cur)
            sim = (bag + in_order) / total  # the mean of two F1s, 2x / (wr + wp) each
            # saturated, still rising: closer wording scores higher
            sim = 0.8 * min(1.0, sim / full) + 0.2 * sim
            shared = int(intersection(rf[lo:hi], pf[plo:phi]))
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
    measures: tuple  # the reference's measures (canonical numbers), for a predicted measure to match within tolerance
    words: dict  # the reference's plain content words: id -> a surface form (for word vectors)
    _weighted: dict = field(default_factory=dict, repr=False)  # fact_weight -> the reference's _matrix arrays
    _near: dict = field(
        default_factory=dict, repr=False
    )  # predicted measure or word -> (reference id, closeness)
    _vectors: list = field(default_factory=list, repr=False)  # [(ids, word vectors)] of ``words``, made once

    @classmethod
    def build(cls, ref_steps: Sequence[str]) -> FactIndex:
        vocab: dict = {}
        ids, kinds, offsets, measures, words = [], [], [0], set(), {}
        for step in ref_steps:
            a = analyse(step)
            step_ids = [vocab.setdefault(w, len(vocab)) for w in a.canon]
            ids += step_ids
            kinds += a.kinds
            measures.update(w for w, m in zip(a.canon, a.measures) if m)
            words.update((k, surface) for k, surface in zip(step_ids, a.surfaces) if surface)
            offsets.append(len(ids))
        return cls(
            vocab,
            np.array(ids, np.int64),
            np.array(kinds, np.int64),
            np.array(offsets, np.int64),
            tuple(sorted(measures)),
            words,
        )

    def _learn_words(self, surfaces: set[str]) -> None:
        """Remember, for predicted content words not seen yet, the reference's plain content word closest to each
        in word vectors (id and cosine), when at least :data:`SYNONYM`; id -1 when none. One lookup per batch."""
        if not self._vectors:  # two threads may both get here: they store equal arrays
            self._vectors.append(
                (np.array(list(self.words), np.int64), static_vectors.word_vectors(list(self.words.values())))
            )
        ids, vectors = self._vectors[0]
        new = sorted(surfaces)
        # one product per word, not one matrix product: BLAS may round a column differently with the matrix's
        # width, so a word's cosine (a weight in the score) would depend on which other words came in its batch
        cos = np.stack(
            [vectors @ v for v in static_vectors.word_vectors(new)], axis=1
        )  # [reference, new words]
        best = cos.argmax(axis=0)
        for surface, k, c in zip(new, ids[best].tolist(), cos[best, np.arange(len(new))].tolist()):
            self._near[surface] = (k, c) if c >= SYNONYM else (-1, 1.0)

    def _near_measure(self, w: str) -> tuple[int, float]:
        """(the reference's id, closeness) of its closest measure within tolerance of a predicted one; id -1
        when none."""
        near = self._near.get(w)
        if near is None:
            c, r = max((closeness(w, r), r) for r in self.measures)
            near = self._near[w] = (self.vocab[r], c) if c > 0 else (-1, 1.0)
        return near

    def matrix(self, pred_steps: Sequence[str], fact_weight: float, full_match: float = 1.0) -> np.ndarray:
        """[n_ref, n_pred] similarity in [0, 1]; an overlap of ``full_match`` counts as 0.8 of a full match, and
        the last fifth grows with the overlap (before the contradicted facts are counted)."""
        steps = [analyse(step) for step in pred_steps]
        get = self.vocab.get
        ids = [get(w, -1) for a in steps for w in a.canon]
        kinds = np.array([k for a in steps for k in a.kinds], np.int64)
        offsets = np.zeros(len(steps) + 1, np.int64)
        np.cumsum([len(a.canon) for a in steps], out=offsets[1:])
        close = np.ones(len(ids))
        if (
            -1 in ids
        ):  # words the reference lacks: a measure within tolerance, or a content word close in meaning
            missing = np.flatnonzero(np.array(ids) < 0).tolist()
            canon = [w for a in steps for w in a.canon]
            measures = [m for a in steps for m in a.measures]
            surfaces = [w for a in steps for w in a.surfaces]
            if self.words and (
                new := {surfaces[q] for q in missing if surfaces[q] and surfaces[q] not in self._near}
            ):
                self._learn_words(new)
            for q in missing:
                if measures[q]:
                    if self.measures:
                        ids[q], close[q] = self._near_measure(canon[q])
                elif surfaces[q] and self.words:
                    ids[q], close[q] = self._near[surfaces[q]]
        return _matrix(
            *self._reference_side(fact_weight),
            np.array(ids, np.int64),
            _weights(kinds, fact_weight),
            close,
            kinds == FACT,
            offsets,
            CONTRADICTION,
            full_match,
        )

    def _reference_side(self, fact_weight: float) -> tuple:
        arrays = self._weighted.get(fact_weight)
        if arrays is None:  # two threads may both get here: they store equal arrays
            w, fact = _weights(self.kinds, fact_weight), self.kinds == FACT
            arrays = self._weighted[fact_weight] = (
                self.ids,
                w,
                fact,
                self.offsets,
                *_sorted_steps(self.ids, w, fact, self.offsets),
            )
        return arrays
