"""The shared numba kernels: one LCS, one sorted-array intersection, one monotone matching."""

from itertools import combinations

import numpy as np

from moss_plugins.reward.kernels import intersection, lcs, lcs_bits, monotone_matching


def _lcs_length(a, b):
    table = np.zeros((len(a) + 1, len(b) + 1), np.int64)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1, j + 1] = table[i, j] + 1 if x == y else max(table[i, j + 1], table[i + 1, j])
    return int(table[-1, -1])


def test_lcs_with_unit_weights_is_the_lcs_length_the_bit_parallel_rouge_kernel_counts():
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = rng.integers(0, 6, rng.integers(1, 64))
        p = rng.integers(-1, 6, rng.integers(0, 40))  # -1: a predicted word the reference lacks
        ones = np.ones(max(r.size, p.size))
        scratch = np.zeros(p.size + 1), np.zeros(p.size + 1)
        expected = _lcs_length(r.tolist(), p.tolist())
        assert lcs(r, ones, p, ones, *scratch) == expected
        masks = np.zeros((1, 6), np.uint64)
        for k, t in enumerate(r.tolist()):
            masks[0, t] |= np.uint64(1) << np.uint64(k)
        assert lcs_bits(masks[0], p, 0, p.size, r.size) == expected


def test_weighted_lcs_takes_the_heavier_common_subsequence():
    r, p = np.array([1, 2, 3]), np.array([3, 1, 2])
    rw, pw = np.array([1.0, 1.0, 5.0]), np.ones(3)
    assert lcs(r, rw, p, pw, np.zeros(4), np.zeros(4)) == 5.0  # "3" alone outweighs "1 2"


def test_intersection_counts_a_multiset_or_sums_the_weights_of_its_pairs():
    a, b = np.array([-1, 1, 2, 2, 5]), np.array([-1, 2, 2, 2, 5, 7])
    assert intersection(a, b) == 3.0  # 2, 2, 5; -1 matches nothing
    aw, bw = np.array([9.0, 1.0, 2.0, 3.0, 4.0]), np.array([9.0, 0.5, 0.5, 0.5, 0.25, 1.0])
    assert intersection(a, b, aw, bw) == 2.0 * 0.5 + 3.0 * 0.5 + 4.0 * 0.25


def test_monotone_matching_is_optimal_and_each_tie_rule_keeps_its_side():
    cost = np.array([[1.0, 0.2], [0.2, 1.0]])  # two equally good matchings: (0, 1) or (1, 0)
    total, rows, cols = monotone_matching(cost, 1.0, False)
    assert total == 1.2 and (rows.tolist(), cols.tolist()) == ([1], [0])
    total, rows, cols = monotone_matching(-(1.0 - cost), 0.0, True)  # as the padding calls it: -similarity
    assert total == -0.8 and (rows.tolist(), cols.tolist()) == ([0], [1])
    rng = np.random.default_rng(1)
    for _ in range(100):
        cost = rng.random((int(rng.integers(1, 7)), int(rng.integers(1, 7))))
        n, m = cost.shape
        best = min(
            cost[list(r), list(c)].sum() + n - k
            for k in range(min(n, m) + 1)
            for r in combinations(range(n), k)
            for c in combinations(range(m), k)
        )
        total, rows, cols = monotone_matching(cost, 1.0, False)
        assert np.all(np.diff(rows) > 0) and np.all(np.diff(cols) > 0)
        assert np.isclose(total, cost[rows, cols].sum() + n - rows.size) and np.isclose(total, best)
