"""The one reader of JSON text from outside (ground truths, samples, annotation rows, chat replies, caches): the
standard's JSON only, nested at most :data:`MAX_DEPTH` deep, every failure a ValueError.

Python's ``json`` accepts ``NaN``/``Infinity`` and recurses once per level of nesting: text nested 100,000 deep
raises RecursionError (or, read at a deeper stack, fails at some depth nobody chose). Here the depth is counted
first, without recursion, so the limit is the same wherever the text is read, and every later step that walks
the value (a deep copy, a cache key, ``asdict``) stays far inside Python's recursion limit.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

# Deeper than any MOSS-Video field, ground truth or chat reply needs (they nest 4 or 5 deep); shallow enough that
# walking the value (deepcopy takes 2 frames a level) stays within Python's default recursion limit of 1000.
MAX_DEPTH = 128

_QUOTE, _OPEN, _CLOSE = ord('"'), np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
_MARKS = np.frombuffer(b'"[{]}', np.uint8)


class TooDeep(ValueError):
    """JSON text nested deeper than :data:`MAX_DEPTH`."""


def parse_json(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)`` held to the JSON standard (``NaN``/``Infinity`` are errors) and to :data:`MAX_DEPTH`
    levels of arrays and objects; ValueError otherwise (:class:`TooDeep`, or ``json.JSONDecodeError`` for
    malformed text)."""
    if isinstance(text, (bytes, bytearray)):  # as json.loads decodes bytes (UTF-8, -16 or -32)
        text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
    depth = nesting(text)
    if depth > MAX_DEPTH:
        raise TooDeep(f"nested too deeply ({depth} levels; at most {MAX_DEPTH})")
    try:
        return json.loads(text, parse_constant=_not_a_number)
    except RecursionError:  # only when read from a stack that is already deep
        raise TooDeep(f"nested too deeply to read here ({depth} levels)") from None


def nesting(text: str) -> int:
    """How many levels deep arrays and objects nest in ``text`` (brackets inside strings do not count), or, when
    that is at most :data:`MAX_DEPTH` anyway, the number of opening brackets: free for the usual text, a few
    vectorised passes without recursion for the rest."""
    opening = text.count("[") + text.count("{")
    if opening <= MAX_DEPTH:
        return opening
    # Escapes go first (an escaped backslash, then an escaped quote), so every quote left opens or closes a string.
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    chars = np.frombuffer(unescaped.encode("utf-8", "surrogatepass"), np.uint8)  # ASCII stays one byte
    marks = chars[np.flatnonzero(np.isin(chars, _MARKS))]
    outside = (np.cumsum(marks == _QUOTE) & 1) == 0
    steps = np.isin(marks, _OPEN).astype(np.int64) - np.isin(marks, _CLOSE)
    return int(np.cumsum(steps * outside).max(initial=0))


def _not_a_number(name: str):
    raise ValueError(f"{name} is not a JSON number")
