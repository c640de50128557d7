"""How every data set we write (``moss data build`` and ``moss data synth``) is divided and balanced: videos to
splits in exact proportion, and each correct answer to a letter so that no letter is right more often than
another; both seeded.

Each caller shuffles with its own seeded stream (the builder's ``random.Random``, the generator's numpy
``Generator``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from ..output_format import LETTERS
from ..sample import SPLITS

K = TypeVar("K", bound=Hashable)


def assign_splits(
    strata: Iterable[Sequence[K]], ratio: Mapping[str, float], permute: Callable[[list[K]], Sequence[K]]
) -> dict[K, str]:
    """item -> split: each stratum in the order ``permute`` (a seeded random permutation) gives it, the strata one
    after another, and each item to the split furthest behind its share of ``ratio``; so the proportions are
    exact overall and, to within one item, in every stratum. A split with a share gets at least one item when
    there are enough (2 videos at a test share of 0.2 still give a test video), taken last from the largest."""
    names = [s for s in SPLITS if ratio.get(s, 0) > 0]
    weights = np.array([ratio[s] for s in names], dtype=np.float64)
    weights /= weights.sum()
    given = np.zeros(len(names))
    out = {}
    for p, item in enumerate(i for stratum in strata for i in permute(list(stratum))):
        s = int(np.argmax(weights * (p + 1) - given))
        given[s] += 1
        out[item] = names[s]
    if len(out) >= len(names):
        for empty in (n for n, g in zip(names, given) if g == 0):
            largest = names[int(np.argmax(given))]
            item = next(i for i in reversed(out) if out[i] == largest)
            out[item] = empty
            given[names.index(largest)] -= 1
            given[names.index(empty)] += 1
    return out


def balanced_positions(
    count: int, n_options: int, block: int, shuffle: Callable[[list[int]], Sequence[int]]
) -> list[int]:
    """Positions (0 = A) of ``count`` correct answers among ``n_options`` options: every run of ``block``
    consecutive samples uses each position equally often (to within one, when ``block`` is not a multiple of
    ``n_options``), in the order ``shuffle`` (a seeded random permutation of a list) gives that run."""
    if count and block < 1:
        raise ValueError(f"balanced_positions needs block >= 1, got {block}")
    positions: list[int] = []
    while len(positions) < count:
        positions += [int(p) for p in shuffle([j % n_options for j in range(block)])]
    return positions[:count]


def place_answer(correct: str, others: Sequence[str], position: int) -> tuple[tuple[str, ...], str]:
    """(options, answer letter): ``correct`` at ``position`` among ``others``, which keep their order."""
    options = list(others)
    options.insert(position, correct)
    return tuple(options), LETTERS[position]
