"""The ``<think>...</think><answer>...</answer>`` output format.

Only ``str.find``/``str.count`` scans: a regex with lazy groups can go quadratic on adversarial outputs full
of unmatched tags, and this runs on every rollout.
"""

from __future__ import annotations

from collections.abc import Sequence

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
