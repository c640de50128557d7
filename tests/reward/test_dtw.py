"""Subsequence DTW against a brute-force enumeration of every admissible path."""

import numpy as np
import pytest

from moss_plugins.reward import subsequence_dtw


def admissible_paths(n, m, max_jump):
    """Every path: starts in row 0 at any column, ends in the last row, moves as the docstring of dtw.py says."""

    def extend(path):
        i, j = path[-1]
        if i == n - 1:
            yield path
        moves = [(i, j + 1)]
        if i + 1 < n:
            moves += [(i + 1, j), (i + 1, j + 1)] + [(i + 1, j + s) for s in range(2, max_jump + 1)]
        for a, b in moves:
            if a < n and b < m:
                yield from extend(path + [(a, b)])

    for j in range(m):
        yield from extend([(0, j)])


@pytest.mark.parametrize("max_jump", [1, 2, 3])
def test_matches_brute_force(max_jump):
    rng = np.random.default_rng(max_jump)
    for trial in range(150):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        cost = rng.random((n, m))
        if trial % 3 == 0:
            cost = cost.round(1)  # ties
        distance, path = subsequence_dtw(cost, max_jump)
        best = min(sum(cost[c] for c in p) for p in admissible_paths(n, m, max_jump))
        assert distance == pytest.approx(best, abs=1e-12)
        assert path in list(admissible_paths(n, m, max_jump))
        assert distance == pytest.approx(sum(cost[c] for c in path), abs=1e-12)


def test_free_start_and_end_and_jumps():
    # reference of 2 steps hidden inside 6 predicted steps with a distractor between them
    cost = np.array([[1, 1, 0, 1, 1, 1], [1, 1, 1, 0.9, 0, 1]], dtype=float)
    assert subsequence_dtw(cost, max_jump=1) == (
        pytest.approx(0.9),
        [(0, 2), (1, 3)],
    )  # earliest end wins ties
    assert subsequence_dtw(cost, max_jump=2) == (0.0, [(0, 2), (1, 4)])  # skips the distractor


def test_every_reference_step_is_matched():
    distance, path = subsequence_dtw(np.ones((4, 2)))
    assert [i for i, _ in path] == sorted({i for i, _ in path}) and {i for i, _ in path} == {0, 1, 2, 3}
    assert distance == 4.0


@pytest.mark.parametrize(
    "bad", [np.zeros((0, 3)), np.zeros((2, 0)), np.full((2, 2), np.nan), -np.ones((1, 1)), np.zeros(3)]
)
def test_rejects_bad_cost(bad):
    with pytest.raises(ValueError):
        subsequence_dtw(bad)


def test_rejects_bad_jump():
    with pytest.raises(ValueError, match="max_jump"):
        subsequence_dtw(np.zeros((2, 2)), max_jump=0)
