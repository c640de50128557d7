"""Sentence-embedding cosine between steps (``semantic_weight`` > 0), through sentence-transformers.

The model (``embedding_model``: a sentence-transformers name or folder, all-MiniLM-L6-v2 by default) is loaded
once per process. Embeddings are kept per text in a bounded cache: :func:`prefetch` encodes all new texts of a
scored batch in one batched call (``score_batch`` does that), so scoring the rollouts afterwards encodes nothing.
Cosine is rescaled so that unrelated sentences (cosine ~0.1-0.3 with MiniLM) land near 0.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

FLOOR = 0.3  # cosine that maps to similarity 0
CACHE_SIZE = 100_000  # texts

_lock = threading.Lock()
_cache: dict[str, OrderedDict] = {}


@functools.cache
def model(name: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError(
            "semantic_weight > 0 needs sentence-transformers: pip install 'moss-plugins[embedding]'"
        ) from e
    return SentenceTransformer(name)


def _encode(name: str, texts: list[str]) -> np.ndarray:
    return np.asarray(model(name).encode(texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float32)  # fmt: skip


def _fill(name: str, texts: Iterable[str]) -> tuple[OrderedDict, int]:
    cache = _cache.setdefault(name, OrderedDict())
    new = list(dict.fromkeys(t for t in texts if t not in cache))
    if new:
        for text, vector in zip(new, _encode(name, new)):
            cache[text] = vector
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return cache, len(new)


def prefetch(name: str, texts: Iterable[str]) -> int:
    """Encode, in one call, every distinct text not cached yet; returns how many were encoded."""
    with _lock:
        return _fill(name, texts)[1]


def vectors(name: str, texts: Sequence[str]) -> np.ndarray:
    with _lock:
        cache, _ = _fill(name, texts)
        return np.stack([cache[t] for t in texts])


def matrix(name: str, ref_steps: Sequence[str], pred_steps: Sequence[str]) -> np.ndarray:
    """[n_ref, n_pred] rescaled cosine in [0, 1]."""
    cos = vectors(name, ref_steps) @ vectors(name, pred_steps).T
    return np.clip((cos.astype(np.float64) - FLOOR) / (1.0 - FLOOR), 0.0, 1.0)
