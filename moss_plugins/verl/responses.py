"""Model responses written from a ground truth, for checks that score known-good and known-bad outputs."""

from __future__ import annotations

from typing import Any

from moss_plugins.reward import parse_ground_truth
from moss_plugins.reward.answer import LETTERS


def reference_response(ground_truth: Any, answer: str | None = None) -> str:
    """The reference trace as "Step N: ..." lines in <think>, then the answer letter (or ``answer``)."""
    truth = parse_ground_truth(ground_truth)
    steps = "\n".join(f"Step {k}: {text}" for k, text in enumerate(truth.step_texts, 1))
    return f"<think>\n{steps}\n</think>\n<answer>{truth.answer if answer is None else answer}</answer>"


def wrong_letter(ground_truth: Any) -> str:
    """An option letter that is not the answer."""
    truth = parse_ground_truth(ground_truth)
    n = len(truth.options) if truth.options else 4
    return next(letter for letter in LETTERS[:n] if letter != truth.answer)
