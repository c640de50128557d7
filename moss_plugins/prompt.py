"""The MOSS-ChatV prompt: question, lettered options, and the reasoning-format instruction the reward checks.

One definition shared by the data exports, the verl dataset and the lmms-eval tasks, so that training and
evaluation ask for exactly the same output format.
"""

from __future__ import annotations

from collections.abc import Sequence

from .reward.answer import LETTERS

REASONING_INSTRUCTION = (
    "Think step by step inside <think> </think>: write one observation or inference per line as "
    '"Step N: ...", in the order the events happen in the video. '
    "Then give the letter of the correct option inside <answer> </answer>."
)
FREE_FORM_INSTRUCTION = (
    "Think step by step inside <think> </think>: write one observation or inference per line as "
    '"Step N: ...", in the order the events happen in the video. '
    "Then give the final answer inside <answer> </answer>."
)


def format_response(steps: Sequence[str], answer: str) -> str:
    """A response in exactly the format the instruction asks for (reference traces, checks, demos, baselines)."""
    body = "\n".join(f"Step {k}: {s}" for k, s in enumerate(steps, 1))
    return f"<think>\n{body}\n</think>\n<answer>{answer}</answer>"


def format_options(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(options))


def build_prompt(question: str, options: Sequence[str] | None = None) -> str:
    """The text part of a MOSS-ChatV user turn (the video placeholder is added by each integration)."""
    if options:
        return f"{question.strip()}\n{format_options(options)}\n{REASONING_INSTRUCTION}"
    return f"{question.strip()}\n{FREE_FORM_INSTRUCTION}"
