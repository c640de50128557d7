"""The MOSS-ChatV output format, the contract between the prompt and everything that reads a model's output.

What the prompt asks for (``<think>`` with one "Step N:" per line, then the option letter in ``<answer>``), a
writer for outputs in exactly that form, the tag parser, the answer alphabet and the text normalisation the
answer checks share. The data exports, the verl dataset, the lmms-eval tasks, the reward and the metrics all
import it from here, so training and evaluation ask for and read the same format. Standard library only.

The parser uses only ``str.find``/``str.count`` scans: a regex with lazy groups can go quadratic on adversarial
outputs full of unmatched tags, and this runs on every rollout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NON_WORD_RE = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces."""
    return _NON_WORD_RE.sub(" ", text.lower()).strip()


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


_OPTION_LINE = re.compile(r"([A-Z])\. (.*)")  # a line of format_options


def split_prompt(prompt: str) -> tuple[str, list[str]]:
    """(question, options) from a MOSS-ChatV prompt: the inverse of :func:`build_prompt`."""
    question, options = [], []
    for line in prompt.splitlines():
        m = _OPTION_LINE.match(line.strip())
        if m and m.group(1) == LETTERS[len(options)]:
            options.append(m.group(2))
        elif not options and line.strip() not in (REASONING_INSTRUCTION, FREE_FORM_INSTRUCTION):
            question.append(line)
    return " ".join(question).strip(), options


# where a user turn's video goes (verl's placeholder; text-only policies: captions)
VIDEO_PLACEHOLDER = "<video>"


def video_prompt(question: str, options: Sequence[str] | None = None) -> str:
    """A whole MOSS-ChatV user turn: the video placeholder, then :func:`build_prompt`."""
    return f"{VIDEO_PLACEHOLDER}\n{build_prompt(question, options)}"


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def _answer_spans(text: str, limit: int | None = None) -> list[tuple[int, int, int, int]]:
    """(block start, content start, content end, block end) of the closed answer blocks (the first ``limit``)."""
    spans = []
    pos = 0
    while (limit is None or len(spans) < limit) and (start := text.find(ANSWER_OPEN, pos)) >= 0:
        end = text.find(ANSWER_CLOSE, start + len(ANSWER_OPEN))
        if end < 0:
            break
        spans.append((start, start + len(ANSWER_OPEN), end, end + len(ANSWER_CLOSE)))
        pos = end + len(ANSWER_CLOSE)
    return spans


def answer_blocks(text: str, limit: int | None = None) -> list[str]:
    """Contents of the closed ``<answer>`` blocks, in order (the first ``limit`` of them)."""
    return [text[c0:c1] for _, c0, c1, _ in _answer_spans(text, limit)]


def think_body(text: str) -> str:
    """The reasoning: the first ``<think>`` block (to the end when it was cut off), the text before a lone
    ``</think>`` (prompt templates that pre-fill ``<think>``), or else the whole text without answer blocks."""
    start = text.find(THINK_OPEN)
    if start >= 0:
        start += len(THINK_OPEN)
        end = text.find(THINK_CLOSE, start)
        if end < 0:
            end = text.find(ANSWER_OPEN, start)
        return text[start:] if end < 0 else text[start:end]
    end = text.find(THINK_CLOSE)
    if end >= 0:
        return text[:end]
    pieces, pos = [], 0
    for b0, _, _, b1 in _answer_spans(text):
        pieces.append(text[pos:b0])
        pos = b1
    pieces.append(text[pos:])
    return "\n".join(pieces)


def well_formed(text: str) -> bool:
    """Exactly one think block, then exactly one non-empty answer block, and nothing else around them."""
    s = text.strip()
    if not (s.startswith(THINK_OPEN) and s.endswith(ANSWER_CLOSE)):
        return False
    if any(s.count(tag) != 1 for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    think_end = s.find(THINK_CLOSE)
    answer_start = s.find(ANSWER_OPEN)
    if answer_start < think_end or s[think_end + len(THINK_CLOSE) : answer_start].strip():
        return False
    return bool(s[answer_start + len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip())


def format_ok(text: str, steps: Sequence[str]) -> bool:
    """The format reward's rule: well formed, and the think block yields at least one step (an empty or
    marker-only ``<think>`` earns nothing)."""
    return bool(steps) and well_formed(text)
