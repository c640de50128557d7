"""The one answer-letter balancer both data writers use (``moss data build`` and ``moss data synth``)."""

import random
from collections import Counter

import numpy as np
import pytest

from moss_plugins.data.balance import balanced_positions, place_answer


def test_every_block_uses_every_position_equally_often():
    rng = random.Random(0)
    positions = balanced_positions(10, 4, 4, lambda xs: rng.sample(xs, len(xs)))  # the builder's blocks
    assert len(positions) == 10 and sorted(positions[:4]) == sorted(positions[4:8]) == [0, 1, 2, 3]
    whole = balanced_positions(10, 4, 10, np.random.default_rng(0).permutation)  # the generator's whole split
    assert Counter(whole) == {0: 3, 1: 3, 2: 2, 3: 2}
    assert balanced_positions(0, 4, 0, np.random.default_rng(0).permutation) == []
    with pytest.raises(ValueError, match="block >= 1"):
        balanced_positions(3, 4, 0, np.random.default_rng(0).permutation)


def test_the_answer_goes_where_it_is_told_and_the_others_keep_their_order():
    assert place_answer("yes", ["a", "b", "c"], 2) == (("a", "b", "yes", "c"), "C")


def test_every_split_with_a_share_gets_a_video_when_there_are_enough():
    from moss_plugins.data.build import video_splits

    assert sorted(video_splits(["a", "b"], 0.2, 0).values()) == ["test", "train"]
    assert set(video_splits(["a"], 0.2, 0).values()) == {"train"}  # one video cannot be split
    assert list(video_splits([f"v{k}" for k in range(10)], 0.2, 0).values()).count("test") == 2
