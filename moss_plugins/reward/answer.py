"""Reading the chosen option (or a short free-form answer) out of an ``<answer>`` block.

Lenient about form ("(B)", "B.", "Answer: B", "b", the option's own text) and strict about ambiguity: an answer
that names two options ("A, B, C, D", "A. red B. blue") reads as no answer, so listing every option never pays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..output_format import LETTERS, normalize

_PREFIX_RE = re.compile(
    r"^(?:\s*(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)\s*(?:is\b|[:=])?\s*)+", re.IGNORECASE
)
_SINGLE_RE = re.compile(r"^[(\[]?([A-Za-z])[)\]]?[.:]?$")
_LEADING_RE = re.compile(r"^(?:\(([A-Za-z])\)|([A-Z])[.):])(?:\s|$)")
# An option letter written as one, not inside a word: "(B)", or "B." / "B)" / "B:" before a space or the end.
# The trace metrics find letters with it too (evaluation/trace_metrics.py).
LETTER_MARKER = r"(?<![A-Za-z0-9])(?:\(([A-Z])\)|([A-Z])[.):](?=\s|$))"
_MARKER_RE = re.compile(LETTER_MARKER)
_CAPITAL_RE = re.compile(r"(?<![A-Za-z0-9'])([A-Z])(?![A-Za-z0-9'])")
_SHORT_ANSWER_TOKENS = 8
# An honest answer is short; parsing only its head keeps a megabyte-long answer block cheap.
MAX_ANSWER_CHARS = 1000


def _options_named(norm: str, options: Sequence[str]) -> set[int]:
    texts = {k: t for k, o in enumerate(options) if (t := normalize(o))}
    named = {k for k, t in texts.items() if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", norm)}
    # "dark red" also contains "red": keep only options not contained in another named one.
    return {k for k in named if not any(k != q and texts[k] in texts[q] for q in named)}


def parse_choice(content: str, options: Sequence[str] | None = None) -> str | None:
    """The option letter an answer chooses, or None when it chooses none or several."""
    valid = LETTERS[: len(options)] if options else LETTERS
    s = _PREFIX_RE.sub("", content[:MAX_ANSWER_CHARS].strip()).strip()
    if m := _SINGLE_RE.match(s):
        letter = m[1].upper()
        return letter if letter in valid else None
    markers = {a or b for a, b in _MARKER_RE.findall(s)} & set(valid)
    if m := _LEADING_RE.match(s):
        letter = (m[1] or m[2]).upper()
        return letter if letter in valid and markers <= {letter} else None
    if markers:
        return markers.pop() if len(markers) == 1 else None
    norm = normalize(s)
    if options:
        named = _options_named(norm, options)
        if named:
            return valid[named.pop()] if len(named) == 1 else None
    if len(norm.split()) <= _SHORT_ANSWER_TOKENS:
        capitals = set(_CAPITAL_RE.findall(s)) & set(valid)
        if len(capitals) == 1:
            return capitals.pop()
    return None


def is_choice(gold: str, options: Sequence[str] | None) -> bool:
    return len(gold) == 1 and gold.upper() in (LETTERS[: len(options)] if options else LETTERS)


def parse_answer(contents: Sequence[str], gold: str, options: Sequence[str] | None) -> str | None:
    """The model's answer in the gold answer's form (a letter, or the free text); None when there is no
    answer block, it is empty, or the blocks disagree."""
    if is_choice(gold, options):
        parsed = {parse_choice(c, options) for c in contents} - {None}
        return parsed.pop() if len(parsed) == 1 else None
    by_norm = {normalize(c[:MAX_ANSWER_CHARS]): c[:MAX_ANSWER_CHARS].strip() for c in contents}
    by_norm.pop("", None)
    return next(iter(by_norm.values())) if len(by_norm) == 1 else None


def _as_number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", ""))
    except ValueError:
        return None


def is_correct(pred: str | None, gold: str, options: Sequence[str] | None) -> bool:
    if pred is None:
        return False
    if is_choice(gold, options):
        return pred == gold.upper()
    if normalize(pred) == normalize(gold):
        return True
    a, b = _as_number(pred), _as_number(gold)
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
