"""Words as the "facts" step similarity sees them: a canonical form, a kind, and the step's polarity.

* **Canonical form.** Lower-cased, English words Snowball-stemmed ("turns", "turned" -> "turn"), a few verbs of
  change and of seeing mapped to one word ("becomes", "switches to" -> "turn"), number words and numerals
  written alike ("two", "2", "2.0" -> "2"). Every CJK ideograph, kana or Hangul syllable stays one token, as in
  the ROUGE tokenizer, with the Chinese numerals 二..十 read as digits (not 一, which starts many words).
* **Kind.** Facts (numbers and colours) weigh ``fact_weight``, other content words 1 and the scaffolding
  (articles, prepositions, auxiliaries, units, "step", "video", ...) :data:`SCAFFOLD_WEIGHT`: another video's
  trace written in the same template then shares little but scaffolding.
* **Polarity.** A step that holds a negation ("not", "no", "never", "n't", 不, 没, 未) is negative
  (:func:`is_negative`; "does not stop and does not turn" is one negated statement, not a double negation);
  negations are not words of the step themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from .tokenize import CJK_RANGES

SCAFFOLD, CONTENT, FACT = 0, 1, 2
SCAFFOLD_WEIGHT = 0.15

_TOKEN_RE = re.compile(rf"\d+(?:[.,]\d+)?|[{CJK_RANGES}]|[^\W\d_{CJK_RANGES}]+")
_NOT_RE = re.compile(r"n['’]t\b")

NEGATIONS = frozenset("not no never none nothing nobody neither nor without cannot 不 没 未".split())
COLOURS = frozenset(
    "red green blue yellow orange purple violet pink cyan magenta brown black white grey gray gold silver "
    "turquoise beige 红 绿 蓝 黄 橙 紫 粉 青 棕 黑 白 灰".split()
)
# Function words and the vocabulary every video-reasoning trace shares.
_SCAFFOLD = frozenset(
    "a an the and or but of to in on at by for with from into onto over under up down off out as so than then "
    "that this these those there here it its it's they them their he him his she her we us our you your i me my "
    "is are was were be been being am do does did has have had will would can could shall should may might must "
    "which what who whom whose when where while after before because since until till also just only very "
    "about around near roughly approximately some any each every all both more less most least such same other "
    "s sec secs second seconds mins minute minutes ms per percent time times step steps video clip frame "
    "frames scene first next last again now ie eg etc "
    "的 了 是 在 着 过 和 与 及 就 都 也 还 又 把 被 让 给 从 到 向 对 这 那 个 一个 秒 时 后 前 里 上 下 中".split()
)
_NUMBER_WORDS = dict(
    zip(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred dozen "
        "twice".split(),
        [*map(str, range(21)), "30", "40", "50", "60", "70", "80", "90", "100", "12", "2"],
    )
)
_CJK_DIGITS = dict(zip("二两三四五六七八九十", ["2", "2", "3", "4", "5", "6", "7", "8", "9", "10"]))
# Verbs of change and of appearance, and a few nouns: each group is read as its first word (after stemming).
_SYNONYMS = (
    "turn become switch change go",
    "appear show emerge",
    "disappear vanish",
    "stop halt",
    "start begin",
    "end finish",
    "move travel slide drift",
    "stay remain keep",
    "reach hit",
    "light lamp",
    "car vehicle",
    "look see watch observe notice",
    "big large",
    "small little",
    "fast quick",
    "put place set",
    "rise climb",
    "fall drop",
)
_STEM = snowballstemmer.stemmer("english")


def _stem(word: str) -> str:
    return _STEM.stemWord(word)


_CANON = {_stem(w): _stem(group.split()[0]) for group in _SYNONYMS for w in group.split()}


def _number(token: str) -> str:
    token = token.replace(",", ".")
    if "." in token:
        token = token.rstrip("0").rstrip(".") or "0"
    return token if "." in token else (token.lstrip("0") or "0")


def word(token: str) -> tuple[str, int]:
    """(canonical form, kind) of one lower-cased token; a negation is ("", -1)."""
    if token in NEGATIONS:
        return "", -1
    if token[0].isdigit():
        return _number(token), FACT
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token], FACT
    if token in _CJK_DIGITS:
        return _CJK_DIGITS[token], FACT
    if token in COLOURS:
        return ("grey" if token == "gray" else token), FACT
    if token in _SCAFFOLD:
        return token, SCAFFOLD
    if not token.isascii():
        return token, CONTENT
    stem = _stem(token)
    return _CANON.get(stem, stem), CONTENT


_WORDS: dict[str, tuple[str, int]] = {}  # token -> word(token), grown as tokens are seen (a plain dict: fastest)


@lru_cache(maxsize=1 << 16)
def analyse(text: str) -> tuple[tuple[str, ...], tuple[int, ...], bool]:
    """A step's canonical words and their kinds (negations left out), and whether it is negative: one pass,
    cached (a GRPO group's rollouts share many steps)."""
    low = text.lower()
    if "n't" in low or "n’t" in low:
        low = _NOT_RE.sub(" not", low)
    memo = _WORDS
    pairs = [memo[t] if t in memo else memo.setdefault(t, word(t)) for t in _TOKEN_RE.findall(low)]
    kept = [p for p in pairs if p[1] >= 0]
    if not kept:
        return (), (), bool(pairs)
    canon, kinds = zip(*kept)
    return canon, kinds, len(pairs) > len(kept)


def is_negative(text: str) -> bool:
    """The step holds a negation (:data:`NEGATIONS`, "n't")."""
    return analyse(text)[2]
