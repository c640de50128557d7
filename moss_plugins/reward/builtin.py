"""The built-in components: the default segmenter, the "facts" similarity (the default), ROUGE (the paper's step
cost) and a character-trigram cosine. A plugin like any other (:mod:`.hookspecs`): the registry registers this
module under the name "builtin"."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .facts import FactIndex
from .hookspecs import hookimpl
from .rouge import RougeIndex, normalized_weights
from .segment import segment_steps


def default_segmenter(text, config):
    return segment_steps(text, config.max_steps, config.max_step_chars, config.max_trace_chars)


class RougeSimilarity:
    """Weighted mean of ROUGE-1/2/L F1 (``rouge_weights``)."""

    def prepare(self, ref_steps):
        return RougeIndex.build(ref_steps)

    def matrix(self, index, pred_steps, config):
        return index.f1s(pred_steps) @ normalized_weights(config.rouge_weights)


class FactSimilarity:
    """Weighted word overlap and order with facts weighing ``fact_weight`` (:mod:`moss_plugins.reward.facts`)."""

    def prepare(self, ref_steps):
        return FactIndex.build(ref_steps)

    def matrix(self, index, pred_steps, config):
        return index.matrix(pred_steps, config.fact_weight, config.full_match)


def _trigrams(text: str) -> Counter:
    s = f"  {' '.join(text.lower().split())} "
    return Counter(s[k : k + 3] for k in range(len(s) - 2))


class CharTrigramSimilarity:
    """Cosine of character-trigram counts: inflections ("opens"/"opened") and CJK overlap without word
    boundaries, which word n-grams miss."""

    def prepare(self, ref_steps):
        grams = [_trigrams(s) for s in ref_steps]
        vocab = {g: k for k, g in enumerate({g for c in grams for g in c})}
        counts = np.zeros((len(ref_steps), len(vocab)))
        for i, c in enumerate(grams):
            for g, n in c.items():
                counts[i, vocab[g]] = n
        return vocab, counts, np.linalg.norm(counts, axis=1)

    def matrix(self, prepared, pred_steps, config):
        vocab, ref_counts, ref_norms = prepared
        pred_counts = np.zeros((len(pred_steps), len(vocab)))
        pred_norms = np.zeros(len(pred_steps))
        for j, s in enumerate(pred_steps):
            c = _trigrams(s)
            pred_norms[j] = np.sqrt(sum(n * n for n in c.values()))
            for g, n in c.items():
                if (k := vocab.get(g)) is not None:
                    pred_counts[j, k] = n
        denom = np.outer(ref_norms, pred_norms)
        return np.divide(ref_counts @ pred_counts.T, denom, out=np.zeros_like(denom), where=denom > 0)


# Registered without install metadata: the checkout also runs from PYTHONPATH alone.
@hookimpl
def moss_segmenters():
    return {"default": default_segmenter}


@hookimpl
def moss_similarities():
    return {"facts": FactSimilarity, "rouge": RougeSimilarity, "char3": CharTrigramSimilarity}
