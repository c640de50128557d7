"""Example extension of the MOSS-ChatV reward: three components, each an entry point of its kind's group
(``pyproject.toml``; the contract is ``moss_plugins/reward/hookspecs.py``).

* ``similarity=embedding``: cosine of sentence embeddings alone, as a registered similarity. It reuses the
  reward's built-in embeddings (``moss_plugins.reward.semantic``: one model per process, a cache per text), so
  it is also what ``semantic_weight=1`` computes; ``semantic_weight`` between 0 and 1 blends it into the
  default instead. Model: ``MOSS_EMBEDDING_MODEL`` (the reward's ``embedding_model``: the shipped static
  vectors ``static-minilm`` by default, or a sentence-transformers name or folder).
* ``segmenter=sentences``: every sentence of the reasoning is a step, whatever the line structure.
* ``extra_terms={hedging: weight}``: share of steps that hedge ("maybe", "perhaps", ...); use a negative weight.
"""

from __future__ import annotations

import os
import re

from moss_plugins.output_format import think_body
from moss_plugins.reward import semantic
from moss_plugins.reward.config import DEFAULT_EMBEDDING_MODEL

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_HEDGES = re.compile(r"\b(maybe|perhaps|possibly|might|not sure|i guess)\b", re.IGNORECASE)


class EmbeddingSimilarity:
    def prepare(self, ref_steps):
        return list(ref_steps)

    def matrix(self, ref_steps, pred_steps, config):
        return semantic.matrix(os.environ.get("MOSS_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL), ref_steps, pred_steps)


def sentences(text, config):
    steps = [s.strip() for s in _SENTENCE_RE.split(" ".join(think_body(text).split())) if s.strip()]
    return [s[: config.max_step_chars] for s in steps[: config.max_steps]]


def hedging(ctx):
    return sum(bool(_HEDGES.search(s)) for s in ctx.steps) / max(len(ctx.steps), 1)

