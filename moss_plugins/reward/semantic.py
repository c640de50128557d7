"""Sentence-embedding cosine between steps (``semantic_weight`` > 0).

The model (``embedding_model``) is static word vectors (:mod:`.static_vectors`: ``"static-minilm"``, the
default, distilled from all-MiniLM-L6-v2 and shipped, or a model2vec folder) or a sentence-transformers name
or folder (``pip install 'moss-plugins[embedding]'``); it is loaded once per process. Embeddings are kept per
text in a bounded cache: :func:`prefetch` encodes all new texts of a scored batch in one batched call
(``score_batch`` does that), so scoring the rollouts afterwards encodes nothing. Cosine is rescaled so that
unrelated sentences (cosine ~0.1-0.3 with MiniLM, ~0.1-0.3 with the static vectors too) land near 0.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from . import static_vectors

FLOOR = 0.3  # cosine that maps to similarity 0; the static vectors rank traces alike at 0.2-0.3, worse above
CACHE_SIZE = 100_000  # texts

_lock = threading.Lock()
_cache: dict[str, OrderedDict] = {}


@functools.cache
def model(name: str):
    if static_vectors.is_static(name):
        return static_vectors.load(name)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError(
            "semantic_weight > 0 needs sentence-transformers: pip install 'moss-plugins[embedding]'"
        ) from e
    return SentenceTransformer(name)


def _encode(name: str, texts: list[str]) -> np.ndarray:
    loaded = model(name)
    if isinstance(loaded, static_vectors.StaticVectors):
        return loaded.sentence_vectors(texts)
    out = loaded.encode(texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


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
