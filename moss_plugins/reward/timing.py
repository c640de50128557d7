"""Times a step states ("at 2.5 s", "after 3 seconds", "0:42", "two minutes", "half a minute", "21秒") checked
against the reference step's.

A reference step's times are its span ``t`` and the times its text states. A predicted time agrees with them
when it is within :func:`tolerance` of one of them or inside the span; a predicted step whose stated times all
miss loses ``time_weight`` of its similarity to that reference step (one that states no time loses nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .facts import MEASURE_TOLERANCE
from .lexicon import NUMBER_WORDS

_DIGIT_RE = re.compile(r"\d")
_SECONDS = r"s|secs?|seconds?|sekunden?|segundos?|秒"
_MINUTES = r"mins?|minutes?|minuten?|minutos?|分钟"
_TIME_RE = re.compile(
    rf"(\d+(?:[.,]\d+)?)\s*(?:({_SECONDS})|{_MINUTES})(?![^\W\d_])|\b(\d{{1,2}}):([0-5]\d)\b", re.IGNORECASE
)
# A time written in words: "fourteen seconds", "half a minute", "a minute" (not "a second", which is as often "2.5%
# a second" or "a second time"): found by its unit, then the words before it are read.
_UNIT_WORD_RE = re.compile(rf"(?<![^\W\d_])(?:({_SECONDS[2:]})|{_MINUTES})(?![^\W\d_])", re.IGNORECASE)
_ARTICLES = frozenset("a an eine una un".split())
_UNIT_HINT = re.compile("se[cgk]|min|秒|分钟", re.IGNORECASE)  # literal prefixes of every unit below
_TIME_HINT = re.compile(rf"\d|{_UNIT_HINT.pattern}", re.IGNORECASE)


def _word_time(before: str, seconds: bool) -> float | None:
    words = before.lower().split()[-3:]
    if words and words[-1] in ("a", "an") and len(words) > 1 and words[-2] in NUMBER_WORDS:
        words.pop()  # "half a minute"
    if not words:
        return None
    if words[-1] in NUMBER_WORDS:
        value = float(NUMBER_WORDS[words[-1]])
    elif words[-1] in _ARTICLES and not seconds:
        value = 1.0
    else:
        return None
    return value * (1.0 if seconds else 60.0)


def stated_times(text: str) -> list[float]:
    """The times in seconds a text states."""
    if not _TIME_HINT.search(text):  # most steps state no time at all: one scan rules them out
        return []
    out = []
    if _DIGIT_RE.search(text):
        for m in _TIME_RE.finditer(text):
            if m.group(1):
                out.append(float(m.group(1).replace(",", ".")) * (1.0 if m.group(2) else 60.0))
            else:
                out.append(60.0 * int(m.group(3)) + int(m.group(4)))
    if _UNIT_HINT.search(text):
        for m in _UNIT_WORD_RE.finditer(text):
            t = _word_time(text[max(0, m.start() - 40) : m.start()], bool(m.group(1)))
            if t is not None:
                out.append(t)
    return out


def tolerance(t: float) -> float:
    """A stated time is a measure read off the video: the measures' relative tolerance, and at least half a
    second."""
    return max(0.5, MEASURE_TOLERANCE * t)


def reference_times(texts: Sequence[str], spans: Sequence[tuple[float, float] | None]) -> list[tuple]:
    """Per reference step: (span or None, times its text states)."""
    return [(span, tuple(stated_times(text))) for text, span in zip(texts, spans)]


def _agrees(t: float, span, points) -> bool:
    tol = tolerance(t)
    if span is not None and span[0] - tol <= t <= span[1] + tol:
        return True
    return any(abs(t - p) <= tol for p in points)


def time_factor(ref_times: list[tuple], pred_steps: Sequence[str], weight: float) -> np.ndarray | None:
    """[n_ref, n_pred] factors in [1 - weight, 1] for the similarity, or None when no predicted step states a time
    or no reference step has a time to check it against."""
    if not any(span is not None or points for span, points in ref_times):
        return None
    stated = [stated_times(s) for s in pred_steps]
    if not any(stated):
        return None
    out = np.ones((len(ref_times), len(pred_steps)))
    for j, times in enumerate(stated):
        if not times:
            continue
        for i, (span, points) in enumerate(ref_times):
            if span is None and not points:
                continue
            missed = sum(not _agrees(t, span, points) for t in times) / len(times)
            out[i, j] = 1.0 - weight * missed
    return out
