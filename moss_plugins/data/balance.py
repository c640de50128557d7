"""Where each correct answer goes among its options, for every data set we write (``moss data build`` and
``moss data synth``): balanced, so that no answer letter is right more often than another, and seeded.

Each caller shuffles with its own seeded stream (the builder's per-group ``random.Random``, the generator's
per-split numpy ``Generator``), so a seed keeps giving the same letters it always gave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..output_format import LETTERS


def balanced_positions(count: int, n_options: int, block: int,
                       shuffle: Callable[[list[int]], Sequence[int]]) -> list[int]:
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
