"""ROUGE tokenization.

On ASCII text this is exactly Google's ``rouge-score`` tokenizer without stemming: lower-case, runs of
``[a-z0-9]`` are tokens, everything else separates. Beyond it, on purpose:

* every CJK ideograph, kana and Hangul syllable is one token (``rouge-score`` deletes them, so a Chinese
  trace would score 0 against anything);
* other Unicode letters and digits stay inside words (``rouge-score`` cuts "café" to "caf").
"""

from __future__ import annotations

import re

CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ebef"
# The NUL alternative lets callers tokenize many steps in one call and find the boundaries again.
CJK_CHAR = re.compile(f"[{CJK_RANGES}]")  # one Chinese, Japanese or Korean character
_TOKEN_RE = re.compile(rf"\x00|[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")

# ASCII fast path (3x quicker than the regex): lower-case letters, keep digits and NUL, all else is a space.
_ASCII_TABLE = bytes(c if chr(c).isalnum() or c == 0 else 32 for c in range(128)).lower() + b" " * 128

STEP_SEPARATOR = "\x00"


def _tokens(text: str) -> list[str]:
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split()
    return _TOKEN_RE.findall(text.lower())


def tokenize(text: str) -> list[str]:
    """Tokens of one text, as ROUGE counts them."""
    return _tokens(text.replace(STEP_SEPARATOR, " "))


def tokenize_steps(steps: list[str]) -> list[str]:
    """Tokens of all steps in one pass, with ``STEP_SEPARATOR`` as a token after each step."""
    return _tokens("".join(s.replace(STEP_SEPARATOR, " ") + " \x00 " for s in steps))
