"""Every rollout is scored against its own row's reference, however the ground truths are handed over: a Hugging
Face ``datasets`` column or any sequence that builds a fresh dict per item frees each dict once it is read, and
the next one may get the freed one's ``id()``; a cache keyed by identity would then hand out the wrong reference."""

from __future__ import annotations

import pytest

from moss_plugins.reward import compute_score
from moss_plugins.reward.batch import score_batch

N = 60


def truth(k: int) -> dict:
    """Row k's reference: its own answer and its own step, so a rollout is right only against its own row."""
    letter = "AB"[k % 2]
    return {
        "answer": letter,
        "options": ["left", "right"],
        "trace": [{"t": [0, 1], "text": f"The disc {k} moves left."}],
    }


def solution(k: int) -> str:
    return f"<think>Step 1: The disc {k} moves left.</think><answer>{'AB'[k % 2]}</answer>"


class FreshDicts:
    """A read-only sequence whose items are built on each access (as ``datasets`` 5's ``Column`` does)."""

    def __len__(self) -> int:
        return N

    def __getitem__(self, k: int) -> dict:
        if not 0 <= k < N:
            raise IndexError(k)
        return truth(k)

    def __iter__(self):
        return (self[k] for k in range(N))


def expected() -> list[float]:
    return [compute_score("moss", solution(k), truth(k))["score"] for k in range(N)]


def test_a_sequence_of_fresh_dicts_scores_each_rollout_against_its_own_row():
    want = expected()  # first, so that scoring the batch allocates little and freed ids come back at once
    got = [r["score"] for r in score_batch([solution(k) for k in range(N)], FreshDicts())]
    wrong = [k for k, (a, b) in enumerate(zip(got, want)) if abs(a - b) > 1e-9]
    assert not wrong, (
        f"{len(wrong)} of {N} rollouts scored against another row's reference (rows {wrong[:5]})"
    )


def test_one_dict_mutated_between_rows_is_read_anew_for_each_row():
    """A generator that reuses one dict and refills it per row: same object, different content."""
    shared: dict = {}

    def rows():
        for k in range(N):
            shared.clear()
            shared.update(truth(k))
            yield shared

    class Reused(FreshDicts):
        def __iter__(self):
            return rows()

    got = [r["score"] for r in score_batch([solution(k) for k in range(N)], Reused())]
    assert got == pytest.approx(expected())


def test_a_datasets_column_scores_each_rollout_against_its_own_row():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"solution": solution(k), "ground_truth": truth(k)} for k in range(N)])
    want = expected()
    got = [r["score"] for r in score_batch(ds["solution"], ds["ground_truth"])]
    assert got == pytest.approx(want)
