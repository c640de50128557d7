"""Reasoning-step serialization: model output -> list of step texts.

Everything here is linear in the input and capped, so a 1 MB output costs about as much as a normal one.
"""

from __future__ import annotations

import re

from ..output_format import think_body

DEFAULT_MAX_STEPS = 64
DEFAULT_MAX_STEP_CHARS = 600
DEFAULT_MAX_TRACE_CHARS = 20_000

# An inline "Step N:" starts a new step. Spelled out case by case: a leading literal class keeps the scan fast.
_INLINE_STEP_RE = re.compile(r"[Ss](?<![A-Za-z][Ss])[Tt][Ee][Pp] ?\d{1,3} ?[:.)\-]")
# A marker at the start of a step: "Step 3:", "3.", "3)", "(3)", "-", "*", "•", "#".
_MARKER_RE = re.compile(r"^\s*(?:step\s*\d+\s*[:.)\-]?|\(?\d{1,3}[.)](?!\d)|[-*\u2022#>]+)\s*", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f\uff1b])\s+|(?<=[\u3002\uff01\uff1f\uff1b])")
_HAS_WORD_RE = re.compile(r"[^\W_]")


def clean_step(text: str) -> str:
    """A step's text without its list/step marker and surrounding white space."""
    return _MARKER_RE.sub("", text, count=1).strip()


def _keep(steps: list[str], max_steps: int, max_step_chars: int) -> list[str]:
    out = []
    for s in steps:
        s = clean_step(s)
        if _HAS_WORD_RE.search(s):
            out.append(s[:max_step_chars])
            if len(out) == max_steps:
                break
    return out


def segment_steps(
    text: str,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_step_chars: int = DEFAULT_MAX_STEP_CHARS,
    max_trace_chars: int = DEFAULT_MAX_TRACE_CHARS,
) -> list[str]:
    """Steps of the ``<think>`` body (the whole text when there is none).

    Splits on line breaks and step markers ("Step 1:", "1.", "- "); text with no such structure is split into
    sentences. Steps without a letter or digit are dropped; at most ``max_steps`` steps of at most
    ``max_step_chars`` characters are kept, read from the first ``max_trace_chars`` characters.
    """
    body = think_body(text)[:max_trace_chars]
    low = body.lower()
    if low.count("step") > low.count("\nstep") + low.startswith("step"):  # some "step" is not at a line start
        body = _INLINE_STEP_RE.sub("\n\\g<0>", body)
    steps = _keep(body.split("\n"), max_steps, max_step_chars)
    if len(steps) <= 1:
        steps = _keep(_SENTENCE_RE.split(body), max_steps, max_step_chars)
    return steps
