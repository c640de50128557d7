"""Example extension of the MOSS-ChatV reward through the ``moss_plugins`` entry-point group.

* ``similarity=embedding``: cosine of sentence embeddings, the semantic step similarity the paper's reviewers
  suggest instead of n-gram overlap. Model: ``MOSS_EMBEDDING_MODEL`` (a sentence-transformers name or folder;
  default all-MiniLM-L6-v2). Reference embeddings are computed once per reference (``prepare``).
* ``segmenter=sentences``: every sentence of the reasoning is a step, whatever the line structure.
* ``extra_terms={hedging: weight}``: share of steps that hedge ("maybe", "perhaps", ...); use a negative weight.
"""

from __future__ import annotations

import functools
import os
import re

import numpy as np

from moss_plugins.reward import hookimpl
from moss_plugins.reward.tags import think_body

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_HEDGES = re.compile(r"\b(maybe|perhaps|possibly|might|not sure|i guess)\b", re.IGNORECASE)


@functools.cache
def _model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(os.environ.get("MOSS_EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2"), device="cpu")


class EmbeddingSimilarity:
    def prepare(self, ref_steps):
        return _model().encode(list(ref_steps), normalize_embeddings=True)

    def matrix(self, ref_embeddings, pred_steps, config):
        pred = _model().encode(list(pred_steps), normalize_embeddings=True)
        return np.clip(ref_embeddings @ pred.T, 0.0, 1.0)


def sentences(text, config):
    steps = [s.strip() for s in _SENTENCE_RE.split(" ".join(think_body(text).split())) if s.strip()]
    return [s[: config.max_step_chars] for s in steps[: config.max_steps]]


def hedging(ctx):
    return sum(bool(_HEDGES.search(s)) for s in ctx.steps) / max(len(ctx.steps), 1)


@hookimpl
def moss_similarities():
    return {"embedding": EmbeddingSimilarity()}


@hookimpl
def moss_segmenters():
    return {"sentences": sentences}


@hookimpl
def moss_reward_terms():
    return {"hedging": hedging}
