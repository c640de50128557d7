import json

import pytest
from reward_cases import render

from moss_plugins.reward import compute_score, score_batch
from moss_plugins.reward import facts as facts_module
from moss_plugins.reward import reference as references


def _groups(truth, ref_steps, n_groups=3, group=8):
    solutions, truths = [], []
    for g in range(n_groups):
        t = json.loads(json.dumps(truth))
        t["trace"][0]["text"] += f" (group {g})"  # distinct references
        for k in range(group):
            solutions.append(render(ref_steps[: 1 + (k % 5)] + [f"extra {k}"] * (k % 3), "ABCD"[k % 4]))
            truths.append(t)
    return solutions, truths


def test_batch_equals_one_by_one(truth, ref_steps):
    solutions, truths = _groups(truth, ref_steps)
    assert score_batch(solutions, truths) == [compute_score(None, s, t) for s, t in zip(solutions, truths)]
    assert score_batch(solutions, truths, alpha=5.0) == [
        compute_score(None, s, t, alpha=5.0) for s, t in zip(solutions, truths)
    ]


def test_each_reference_is_tokenized_once_per_group(truth, ref_steps, monkeypatch):
    references.REFERENCES.clear()
    builds = []
    real = facts_module.FactIndex.build
    monkeypatch.setattr(
        facts_module.FactIndex, "build", classmethod(lambda cls, steps: builds.append(1) or real(steps))
    )
    solutions, truths = _groups(truth, ref_steps, n_groups=4, group=8)
    results = score_batch(solutions, truths)
    assert len(results) == 32 and len(builds) == 4


def test_batch_validates_lengths(truth):
    with pytest.raises(ValueError, match="2 solutions but 1 ground truths"):
        score_batch(["a", "b"], [truth])
    with pytest.raises(ValueError, match="extra_infos"):
        score_batch(["a"], [truth], extra_infos=[{}, {}])


def test_concurrent_rollouts_of_a_group_prepare_the_reference_once(truth, ref_steps, monkeypatch):
    """verl scores a group's rollouts from several executor threads at once: they must share one preparation."""
    import threading
    import time

    references.REFERENCES.clear()
    builds = []
    real = facts_module.FactIndex.build

    def slow_build(cls, steps):
        builds.append(1)
        time.sleep(0.05)  # widen the window in which every thread has missed the cache
        return real(steps)

    monkeypatch.setattr(facts_module.FactIndex, "build", classmethod(slow_build))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(compute_score(None, render(ref_steps), truth)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(builds) == 1
