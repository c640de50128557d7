"""Example extension of the MOSS-ChatV reward: one plugin module providing three components through the hooks
of ``moss_plugins/reward/hookspecs.py``, each advertised as an entry point of its kind's group
(``pyproject.toml``).

* ``similarity=embedding``: cosine of sentence embeddings alone. It reuses the reward's built-in embeddings
  (``moss_plugins.reward.semantic``: one model per process, a cache per text), so it is also what
  ``semantic_weight=1`` computes; ``semantic_weight`` between 0 and 1 blends it into the default instead. Its
  option ``model`` comes from its block in the reward configuration, ``plugins: {embedding: {model: ...}}``
  (``reward.moss_dtw.plugins.embedding.model=...`` in verl): the shipped static vectors ``static-minilm`` by
  default, or a sentence-transformers name or folder.
* ``segmenter=sentences``: every sentence of the reasoning is a step, whatever the line structure.
* ``extra_terms={hedging: weight}``: share of steps that hedge ("maybe", "perhaps", ...); use a negative weight.
"""

from __future__ import annotations

import re

from moss_plugins.output_format import think_body
from moss_plugins.reward import semantic
from moss_plugins.reward.config import DEFAULT_EMBEDDING_MODEL
from moss_plugins.reward.hookspecs import hookimpl

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_HEDGES = re.compile(r"\b(maybe|perhaps|possibly|might|not sure|i guess)\b", re.IGNORECASE)


class EmbeddingSimilarity:
    """A class, so that it takes options: the reward builds it with its ``plugins.embedding`` block."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL):
        self.model = model

    def prepare(self, ref_steps):
        return list(ref_steps)

    def matrix(self, ref_steps, pred_steps, config):
        return semantic.matrix(self.model, ref_steps, pred_steps)


def sentences(text, config):
    steps = [s.strip() for s in _SENTENCE_RE.split(" ".join(think_body(text).split())) if s.strip()]
    return [s[: config.max_step_chars] for s in steps[: config.max_steps]]


def hedging(ctx):
    return sum(bool(_HEDGES.search(s)) for s in ctx.steps) / max(len(ctx.steps), 1)


@hookimpl
def moss_similarities():
    return {"embedding": EmbeddingSimilarity}


@hookimpl
def moss_segmenters():
    return {"sentences": sentences}


@hookimpl
def moss_reward_terms():
    return {"hedging": hedging}
