"""Static word vectors (model2vec) distilled from all-MiniLM-L6-v2: sentence vectors at lexical speed for
``semantic_weight``, and :func:`word_vectors` for soft matching of single words.

The shipped model (``embedding_model="static-minilm"``, the folder ``static_minilm/`` beside this module, made
by ``python -m moss_plugins.reward.distill``) holds one vector per WordPiece token. A sentence vector is
model2vec's: the normalised mean of its tokens' vectors. It is computed here from per-word token sums,
memoised per word and added by a numba kernel, not with model2vec's ``encode``, which runs the tokenizer over
every whole text and is several times slower on a batch of steps (docs/reward.md, "Speed"). A text's words are
its whitespace-separated pieces, the first split of BERT's pre-tokenizer, so their token sums add up to
exactly the text's tokens.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numba import njit

STATIC_MODEL = "static-minilm"  # the embedding_model name of the shipped vectors
SHIPPED = Path(__file__).with_name("static_minilm")
MAX_WORDS = 200_000  # memoised words per model; past it the memo starts afresh (only junk text gets there)


def is_static(name: str) -> bool:
    """Whether ``embedding_model`` names static vectors: the shipped ones or a folder of a model2vec model."""
    if name == STATIC_MODEL:
        return True
    config = Path(name) / "config.json"
    try:
        return config.is_file() and json.loads(config.read_text()).get("model_type") == "model2vec"
    except (OSError, ValueError):
        return False


@njit(cache=True, nogil=True)
def _add_rows(table, rows, bounds, out):
    """out[i] = sum of table[rows[j]] for j in [bounds[i], bounds[i+1])."""
    for i in range(len(bounds) - 1):
        for j in range(bounds[i], bounds[i + 1]):
            out[i] += table[rows[j]]
    return out


def _normalised(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


class StaticVectors:
    """One loaded model2vec model and its per-word memo of token sums (thread-safe)."""

    def __init__(self, folder: str | Path):
        from model2vec import StaticModel

        self.model = StaticModel.from_pretrained(folder)
        self.dim = int(self.model.dim)
        self._lock = threading.Lock()
        self._rows: dict[str, int] = {}
        self._sums = np.zeros((1024, self.dim), np.float32)

    def _memoise(self, words: set[str]) -> None:
        """Add the token sums of ``words`` (not memoised yet) to the table, tokenizing them in one call."""
        new = list(words)
        tokens = self.model.encode_as_sequence(new, use_multiprocessing=False)
        start = len(self._rows)
        if start + len(new) > len(self._sums):
            grown = np.zeros((max(2 * len(self._sums), start + len(new)), self.dim), np.float32)
            grown[:start] = self._sums[:start]
            self._sums = grown
        for k, (word, vectors) in enumerate(zip(new, tokens)):
            self._rows[word] = start + k
            self._sums[start + k] = vectors.sum(axis=0, dtype=np.float32)

    def _row_ids(self, words: Sequence[str]) -> np.ndarray:
        missing = set(words).difference(self._rows)
        if len(self._rows) + len(missing) > MAX_WORDS:
            self._rows.clear()
            missing = set(words)
        if missing:
            self._memoise(missing)
        return np.fromiter(map(self._rows.__getitem__, words), np.int64, len(words))

    def word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """[len(words), dim] normalised float32 rows (zeros for a word with no known token)."""
        with self._lock:
            rows = self._row_ids(words)  # first: it may grow the table, which self._sums then names
            return _normalised(self._sums[rows])

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), dim] normalised float32 rows: model2vec's mean of each text's token vectors."""
        split = [t.split() for t in texts]
        bounds = np.zeros(len(texts) + 1, np.int64)
        np.cumsum([len(w) for w in split], out=bounds[1:])
        with self._lock:
            rows = self._row_ids([w for words in split for w in words])
            sums = _add_rows(self._sums, rows, bounds, np.zeros((len(texts), self.dim), np.float32))
        return _normalised(sums)


@functools.cache
def load(name: str) -> StaticVectors:
    """The static model ``name`` (:data:`STATIC_MODEL` or a model2vec folder), loaded once per process."""
    folder = SHIPPED if name == STATIC_MODEL else Path(name)
    if not (folder / "model.safetensors").is_file():
        raise OSError(
            f"embedding_model {name!r}: no static vectors at {folder}/model.safetensors "
            "(python -m moss_plugins.reward.distill re-makes the shipped ones)"
        )
    return StaticVectors(folder)


def word_vectors(words: Sequence[str], name: str = STATIC_MODEL) -> np.ndarray:
    """Normalised float32 rows, one per word, from the static model (memoised per word): the cosine of two
    words is their rows' dot product, e.g. for soft matching of synonyms."""
    return load(name).word_vectors(words)
