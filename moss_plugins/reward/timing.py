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

from .lexicon import NUMBER_WORDS

_DIGIT_RE = re.compile(r"\d")
_SECONDS = r"s|secs?|seconds?|sekunden?|segundos?|秒"
_MINUTES = r"mins?|minutes?|minuten?|minutos?|分钟"
_TIME_RE = re.compile(
    rf"(\d+(?:[.,]\d+)?)\s*(?:({_SECONDS})|{_MINUTES})(?![^\W\d_])|\b(\d{{1,2}}):([0-5]\d)\b", re.IGNORECASE
)
# A time written in words: "fourteen seconds", "half a minute", "a minute" (not "a second", which is as often "2.5%
# a second" or "a second time"); only looked for when a unit is there.
_UNIT_RE = re.compile(rf"(?:{_SECONDS[2:]}|{_MINUTES})", re.IGNORECASE)
_WORDS_RE = re.compile(
    rf"\b(?:({'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))})(?:\s+an?)?\s+(?:({_SECONDS[2:]})|{_MINUTES})"
    rf"|(?:an?|eine|una?)\s+(?:{_MINUTES}))\b",
    re.IGNORECASE,
)


def stated_times(text: str) -> list[float]:
    """The times in seconds a text states."""
    out = []
    if _DIGIT_RE.search(text):  # most steps state no time at all: two cheap tests first
        for m in _TIME_RE.finditer(text):
            if m.group(1):
                out.append(float(m.group(1).replace(",", ".")) * (1.0 if m.group(2) else 60.0))
            else:
                out.append(60.0 * int(m.group(3)) + int(m.group(4)))
    if _UNIT_RE.search(text):
        for m in _WORDS_RE.finditer(text):
            value = float(NUMBER_WORDS[m.group(1).lower()]) if m.group(1) else 1.0
            out.append(value * (1.0 if m.group(2) else 60.0))
    return out


def tolerance(t: float) -> float:
    return max(0.5, 0.05 * t)


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
