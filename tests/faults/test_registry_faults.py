"""Registering a component while other threads score (a notebook adding a term while a verl executor thread pool
scores): no scoring call may fail or score differently because of it."""

from __future__ import annotations

import sys
import threading
import time

from moss_plugins.reward import compute_score, registry
from moss_plugins.reward.hookspecs import hookimpl

TRUTH = {"answer": "A", "options": ["x", "y"], "trace": ["The disc turns red.", "The disc turns blue."]}
SOLUTION = "<think>Step 1: The disc turns red.\nStep 2: The disc turns blue.</think><answer>A</answer>"


class Many:
    """A plugin with many names (each lookup after a registration reads them all)."""

    def __init__(self, prefix: str, n: int):
        self.named = {f"{prefix}{k}": (lambda *a: 0.0) for k in range(n)}

    @hookimpl
    def moss_similarities(self):
        return self.named

    @hookimpl
    def moss_reward_terms(self):
        return self.named


def test_registering_while_threads_score_changes_no_score(monkeypatch):
    # Many names already registered and frequent thread switches: a race that needs a switch inside a lookup
    # shows within a second.
    monkeypatch.setattr(registry, "_pm", registry._Manager())
    registry.register(Many("old", 20000), "old")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    expected = compute_score("moss", SOLUTION, TRUTH)["score"]
    stop, errors, scores = threading.Event(), [], []

    def score():
        while not stop.is_set():
            try:
                scores.append(compute_score("moss", SOLUTION, TRUTH)["score"])
            except Exception as e:  # noqa: BLE001 (what escapes is the failure)
                errors.append(repr(e))

    threads = [threading.Thread(target=score) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        k, end = 0, time.monotonic() + 2.0
        while time.monotonic() < end:
            k += 1
            registry.register(Many(f"new{k}-", 2), f"new{k}")
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(interval)
    assert not errors, f"{len(errors)} scoring calls raised, e.g. {errors[0]}"
    wrong = [s for s in scores if s != expected]
    assert not wrong, f"{len(wrong)} of {len(scores)} rollouts scored {set(wrong)} instead of {expected}"
