"""Words as the "facts" step similarity sees them: a canonical form, a kind, and the claims a step makes.

* **Canonical form.** Lower-cased, stemmed with the Snowball stemmer of the step's language (English, German or
  Spanish, guessed from its function words), number words and numerals written alike ("two", "zwei", "2",
  "2.0" -> "2"). Every CJK ideograph, kana or Hangul syllable stays one token, as in the ROUGE tokenizer, with
  the Chinese numerals 二..十 read as digits (not 一, which starts many words). Rewording beyond inflection is
  left to static word vectors (:mod:`.facts`), not to a synonym list.
* **Kind.** Facts (numbers and colours) weigh ``fact_weight``, other content words 1 and the scaffolding
  (articles, prepositions, auxiliaries, units, "step", "video", ...) :data:`SCAFFOLD_WEIGHT`: another video's
  trace written in the same template then shares little but scaffolding. A number stated with a unit or a
  decimal point is a *measure* (read from the video, compared with a tolerance); a bare integer is a count.
* **Claims.** A negation ("not", "no longer", "nothing", "without", 没有, 不再, nicht, kein, nunca, ya no, ...)
  negates the word it scopes over: the next content word of its clause (the previous one when the clause ends
  first, as in German "öffnet sich nicht"). One side of a pair of opposites is read as the other negated
  ("closed" is "not open", "empty" is "not full"), so "the door is not opened" and "the door stays closed" make
  the same claim, and "the door opens" contradicts both. :func:`conflicts` says whether two steps assert and
  deny the same word; negations are not words of the step themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import snowballstemmer

from .tokenize import CJK_CHAR, CJK_RANGES

SCAFFOLD, CONTENT, FACT = 0, 1, 2
SCAFFOLD_WEIGHT = 0.15

_TOKEN_RE = re.compile(rf"\d+(?:[.,]\d+)?%?|[{CJK_RANGES}]|[^\W\d_{CJK_RANGES}]+")
# With clause ends as tokens: only for a step that holds a negation (its scope ends with the clause).
_CLAUSE_TOKEN_RE = re.compile(
    rf"\d+(?:[.,]\d+)?%?|[{CJK_RANGES}]|[^\W\d_{CJK_RANGES}]+|[.,;:!?\u3002\uff0c\uff1b]"
)
_CLAUSE_END = frozenset(".,;:!?\u3002\uff0c\uff1b") | frozenset(
    "and but while whereas und aber während y pero e mientras 和 但 而".split()
)
_NOT_RE = re.compile(r"n['’]t\b")
# Multi-character Chinese negations, read as one token before the text is cut into characters.
_ZH_NEGATIONS = re.compile("没有|不再|不会|未曾")

NEGATIONS = frozenset(
    "not no never none nothing nobody neither nor without cannot "  # English
    "nicht kein keine keinen keinem keiner keines nie niemals nichts niemand ohne "  # German
    "nunca jamás ningún ninguna ninguno nada nadie sin tampoco ni "  # Spanish ("no" is shared with English)
    "不 没 未 别 无 没有 不再 不会 未曾".split()
)
COLOURS = frozenset(
    "red green blue yellow orange purple violet pink cyan magenta brown black white grey gray gold silver "
    "turquoise beige rot grün blau gelb lila rosa schwarz weiß grau braun rojo roja verde azul amarillo amarilla "
    "naranja morado morada rosa negro negra blanco blanca gris marrón 红 绿 蓝 黄 橙 紫 粉 青 棕 黑 白 灰".split()
)
# The English function words every user of words skips: scaffolding here, never an option's own keyword in the
# trace metrics (evaluation/trace_metrics.py).
STOPWORDS = frozenset(
    "the a an and or of to in on at by for with from into onto over under is are was were be been being it its "
    "this that these those then than there their they them he she his her as so will would can could does do "
    "did has have had which what who when where while".split()
)
# Beyond STOPWORDS, function words (closed classes) and the vocabulary every video-reasoning trace shares. Words
# that only extend a negation ("no longer", "nicht mehr", "ya no", 没有, 不再) are here so that the negation
# scopes past them.
_SCAFFOLD = {
    "en": "but here it's him we us our you your i me my am shall should may might must whom whose because since "
    "until till also just only very about around near roughly approximately some any each every all both more "
    "less most least such same other s sec secs second seconds min mins minute minutes ms per percent time times "
    "step steps video clip frame frames scene first next last again now ie eg etc longer anymore still",
    "de": "der die das den dem des ein eine einen einem einer eines und oder aber zu im in am an auf aus bei mit "
    "nach von vor zum zur für über unter um bis als wie so dann da dass es er sie wir ihr ich du sich sein "
    "seine ist sind war waren wird werden wurde wurden hat haben hatte hatten kann können soll sollte mehr noch "
    "auch nur sehr etwa ungefähr jede jeder jedes alle beide dieser diese dieses erst erste sekunde sekunden "
    "prozent pro minute minuten schritt video bild szene",
    "es": "el la los las un una unos unas y o pero de del al a en con por para sobre bajo hasta desde como que "
    "se su sus lo le les es son está están era eran fue fueron ha han había hay ser estar muy más menos ya "
    "aún todavía cada todo todos todas ambos este esta estos estas ese esa primero primera segundo segundos "
    "por ciento minuto minutos paso vídeo video escena cuadro",
    "zh": "的 了 是 在 着 过 和 与 及 就 都 也 还 又 把 被 让 给 从 到 向 对 这 那 个 一个 秒 时 后 前 里 上 下 中 有 再",
}
_SCAFFOLD_WORDS = STOPWORDS | frozenset(w for words in _SCAFFOLD.values() for w in words.split())
# Function words that tell German or Spanish text from English (a step is read in the language with most hits).
_LANGUAGE_HINTS = {
    "en": frozenset("the a an is are and of to in it with at its this that was were".split()),
    "de": frozenset(
        "der die das den dem ein eine einen und ist sind wird nicht mit auf im zu sich auch nach".split()
    ),
    "es": frozenset("el la los las un una y es son está están en del al se con por para que no su".split()),
}
NUMBER_WORDS = {
    **dict(
        zip(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty".split(),
            map(str, range(21)),
        )
    ),
    **dict(
        zip("thirty forty fifty sixty seventy eighty ninety hundred".split(), map(str, range(30, 101, 10)))
    ),
    "dozen": "12",
    "twice": "2",
    "half": "0.5",
    "quarter": "0.25",
    **dict(
        zip(
            "null zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig hundert".split(),
            ["0", *map(str, range(2, 13)), "20", "30", "100"],
        )
    ),
    **dict(
        zip(
            "cero dos tres cuatro cinco seis siete ocho nueve diez once doce veinte treinta cien".split(),
            ["0", *map(str, range(2, 13)), "20", "30", "100"],
        )
    ),
    "docena": "12",
    "dutzend": "12",
    "mitad": "0.5",
    "halb": "0.5",
    "halbe": "0.5",
}
_FOREIGN_HINTS = _LANGUAGE_HINTS["de"] | _LANGUAGE_HINTS["es"]
_CJK_DIGITS = dict(zip("二两三四五六七八九十", ["2", "2", "3", "4", "5", "6", "7", "8", "9", "10"]))
# Units after a number that make it a measure (estimated from the video, compared with a tolerance).
_UNITS = frozenset(
    "% percent per s sec secs second seconds min mins minute minutes ms cm mm m km meter meters metre metres "
    "kg g degrees degree °c c l ml mph kmh km/h prozent sekunde sekunden grad minuten meter por segundos "
    "segundo minutos grados metros 秒 分钟 度 米".split()
)
# Opposites: every word of a group after "|" is read as the first word negated. A closed class (directions,
# states, arrivals): pairs a word-vector space puts next to each other, so they must be told apart here.
_OPPOSITES = (
    "open|close shut closed",
    "full|empty",
    "on|off",
    "left|right",
    "up|down",
    "before|after",
    "arrive|leave depart",
    "enter|exit",
    "move|stop halt",
    "front|back behind",
    "above|below beneath",
    "rise|fall sink",
    "increase|decrease",
    "grow|shrink",
    "fast|slow",
    "win|lose",
    "push|pull",
    "appear|disappear vanish",
    "visible|invisible hidden",
    "same|different",
    "wet|dry",
    "hot|cold",
    "high|low",
    "top|bottom",
    "forward|backward backwards",
    "clockwise|counterclockwise anticlockwise",
    "together|apart",
    "inside|outside",
    "lit|unlit",
    "present|absent",
    "start|finish",
    "offen öffnen geöffnet|geschlossen schließen schließt zu",
    "voll|leer",
    "links|rechts",
    "oben|unten",
    "an|aus",
    "vorne|hinten",
    "abierto abre abrir|cerrado cierra cerrar",
    "lleno|vacío",
    "izquierda|derecha",
    "arriba|abajo",
    "encendido|apagado",
    "antes|después",
    "entra|sale",
    "开|关",
    "满|空",
    "左|右",
    "亮|灭 暗",
    "进|出",
)
# "on"/"off" are particles or prepositions except after a verb of state ("is on", "turns off").
_ON_AFTER = frozenset(
    "is are was were be been stay stays stayed remain remains remained turn turns turned "
    "switch switches switched go goes went come comes came still".split()
)
_PARTICLES = frozenset("on off an aus".split())
# "after that", "before this": connectives between steps, not claims about order.
_CONNECTIVES = frozenset("before after antes después".split())
_DEMONSTRATIVES = frozenset("that this which it , eso esto".split())
# "left" after these is "remaining" ("nothing is left"), not the direction.
_LEFT_AFTER = frozenset("is are was were be been being get gets got nothing anything".split())

_STEMMERS = {
    lang: snowballstemmer.stemmer(name)
    for lang, name in (("en", "english"), ("de", "german"), ("es", "spanish"))
}


@lru_cache(maxsize=1 << 16)
def _stem(word: str, lang: str) -> str:
    stemmer = _STEMMERS.get(lang)
    return stemmer.stemWord(word) if stemmer else word


def _pole(word: str, lang: str) -> tuple[str, bool]:
    return _POLES.get(word) or _POLES.get(_stem(word, lang)) or (_stem(word, lang), False)


def _build_poles() -> dict[str, tuple[str, bool]]:
    poles = {}
    for group in _OPPOSITES:
        yes, no = (side.split() for side in group.split("|"))
        pole = yes[0]
        for words, negated in ((yes, False), (no, True)):
            for w in words:
                poles[w] = (pole, negated)
                for stemmer in _STEMMERS.values():  # inflected forms reach the same pole ("closes", "opened")
                    poles.setdefault(stemmer.stemWord(w), (pole, negated))
    return poles


_POLES = _build_poles()
_POLE_NAMES = frozenset(pole for pole, _ in _POLES.values())


def _number(token: str) -> str:
    token = token.replace(",", ".")
    if "." in token:
        token = token.rstrip("0").rstrip(".") or "0"
    return token if "." in token else (token.lstrip("0") or "0")


def language(tokens: list[str], ascii: bool = False) -> str:
    """ "en", "de", "es" or "zh" for a step's lower-cased tokens (function-word hits; CJK characters)."""
    if not ascii and any(CJK_CHAR.match(t) for t in tokens[:8]):
        return "zh"
    if _FOREIGN_HINTS.isdisjoint(tokens):
        return "en"
    seen = set(tokens)
    en, de, es = (len(_LANGUAGE_HINTS[lang].intersection(seen)) for lang in ("en", "de", "es"))
    if max(de, es) < 2 or max(de, es) <= en:
        return "en"
    return "de" if de >= es else "es"


class Word(NamedTuple):
    canon: str
    kind: int
    polar: bool  # may be asserted or denied: content, facts, and either side of a pair of opposites
    negated: bool  # the form itself is the negative side of an opposite ("closed")
    measure: bool  # a number with a unit or decimals
    # an English content word as written, for word vectors (:mod:`.facts` reads rewordings with them)
    surface: str = ""


def word(token: str, lang: str = "en", previous: str = "", following: str = "") -> Word:
    """How one lower-cased token reads in its context (previous and following token)."""
    if token[0].isdigit() or token in NUMBER_WORDS or token in _CJK_DIGITS:
        percent = token.endswith("%")
        value = (
            _number(token.rstrip("%"))
            if token[0].isdigit()
            else NUMBER_WORDS.get(token) or _CJK_DIGITS[token]
        )
        return Word(value, FACT, True, False, percent or "." in value or following in _UNITS)
    if token in COLOURS:
        return Word("grey" if token == "gray" else token, FACT, True, False, False)
    if token in _PARTICLES:
        if previous not in _ON_AFTER:  # a preposition: not the word of the pole "on"
            return Word(f"({token})", SCAFFOLD, False, False, False)
        pole, negated = _POLES[token]
        return Word(pole, CONTENT, True, negated, False)
    if token == "left" and previous in _LEFT_AFTER:
        return Word("remain", CONTENT, True, False, False)
    if token in _CONNECTIVES and (following in _DEMONSTRATIVES or following[:1].isdigit()):
        return Word(
            f"({token})", SCAFFOLD, False, False, False
        )  # "after that", "after 3 s": no claim about order
    if token in _SCAFFOLD_WORDS and token not in _POLES:
        return Word(token, SCAFFOLD, False, False, False)
    pole, negated = _pole(token, lang)
    kind = SCAFFOLD if token in _SCAFFOLD_WORDS else CONTENT
    # opposites are read by polarity instead
    plain = kind == CONTENT and lang == "en" and pole not in _POLE_NAMES
    return Word(pole, kind, True, negated, False, token if plain else "")


# Tokens whose reading depends on their neighbours (numbers too); every other token is read once per language.
_CONTEXTUAL = frozenset(NUMBER_WORDS) | frozenset(_CJK_DIGITS) | _PARTICLES | _CONNECTIVES | {"left"}
_MEMO: dict[str, dict] = {}  # language -> token -> Word or clause end (a plain dict: fastest)


class Analysis:
    """A step's canonical words (negations left out; opposites read as their first word), their kinds, which
    are measures, and the words it denies (negated, or the negative side of an opposite) and asserts."""

    __slots__ = ("canon", "kinds", "measures", "surfaces", "denied", "_asserted")

    def __init__(self, canon: tuple, kinds: tuple, measures: tuple, surfaces: tuple, denied: frozenset):
        self.canon, self.kinds, self.measures, self.surfaces, self.denied = (
            canon,
            kinds,
            measures,
            surfaces,
            denied,
        )
        self._asserted = None

    @property
    def asserted(self) -> frozenset:
        """Read only where something is denied (most steps deny nothing, and their claims are never compared).
        Every word not denied, scaffolding too: only a polar word is ever denied, so only those ever conflict."""
        if self._asserted is None:
            self._asserted = frozenset(self.canon) - self.denied
        return self._asserted


def _tokens(text: str, pattern: re.Pattern = _TOKEN_RE) -> list[str]:
    low = text.lower()
    if "n't" in low or "n’t" in low:
        low = _NOT_RE.sub(" not", low)
    if not low.isascii():
        low = _ZH_NEGATIONS.sub(lambda m: f" {m.group(0)} ", low)
        return [
            t for part in low.split(" ") for t in ([part] if part in NEGATIONS else pattern.findall(part))
        ]
    return pattern.findall(low)


_NEGATION = object()  # marks a negation among a step's words
_NOTHING: frozenset = frozenset()


def _read(tokens: list[str], k: int, lang: str, memo: dict):
    """Token ``k`` as a Word, a negation or a clause end; memoised in ``memo`` unless its neighbours matter."""
    t = tokens[k]
    if t in _CLAUSE_END:
        memo[t] = t
        return t
    if t in NEGATIONS or (t == "no" and lang in ("en", "es")):
        memo[t] = _NEGATION
        return _NEGATION
    if t in _CONTEXTUAL or t[0].isdigit():  # numbers: a unit may follow
        previous = next((p for p in reversed(tokens[max(0, k - 3) : k]) if p not in NEGATIONS), "")
        following = tokens[k + 1] if k + 1 < len(tokens) else ""
        # what of the neighbours matters: reading them once per combination keeps this a dictionary look-up
        key = (
            t,
            lang,
            previous in _ON_AFTER,
            previous in _LEFT_AFTER,
            following in _DEMONSTRATIVES or following[:1].isdigit(),
            following in _UNITS,
        )
        w = _IN_CONTEXT.get(key)
        if w is None:
            w = _IN_CONTEXT[key] = word(t, lang, previous, following)
        return w
    w = memo[t] = word(t, lang)
    return w


_IN_CONTEXT: dict = {}  # (token, the facts of its neighbours word() reads) -> Word


@lru_cache(maxsize=1 << 16)
def analyse(text: str) -> Analysis:
    """A step's canonical words, their kinds, and the claims it makes: one pass, cached (a GRPO group's
    rollouts share many steps)."""
    tokens = _tokens(text)
    lang = language(tokens, text.isascii())
    memo = _MEMO.setdefault(lang, {})
    words = [memo[t] if t in memo else _read(tokens, k, lang, memo) for k, t in enumerate(tokens)]
    flips = set()
    if _NEGATION in words:  # read again with clause ends, which bound a negation's scope
        tokens = _tokens(text, _CLAUSE_TOKEN_RE)
        words = [memo[t] if t in memo else _read(tokens, k, lang, memo) for k, t in enumerate(tokens)]
        for k, w in enumerate(words):
            if w is _NEGATION and (target := _scope(words, k)) is not None:
                flips ^= {target}
    if flips:
        kept = [
            w._replace(negated=not w.negated) if k in flips else w
            for k, w in enumerate(words)
            if w.__class__ is Word
        ]
    else:
        kept = [w for w in words if w.__class__ is Word]
    if not kept:
        return Analysis((), (), (), (), _NOTHING)
    canon, kinds, polar, negated, measures, surfaces = zip(*kept)
    denied = _NOTHING
    if True in negated:  # only polar words are ever negated
        denied = frozenset(
            {c for c, n in zip(canon, negated) if n}
            - {c for c, p, n in zip(canon, polar, negated) if p and not n}
        )
    return Analysis(canon, kinds, measures, surfaces, denied)


def _scope(words: list, k: int) -> int | None:
    """The word the negation at ``k`` negates: the next polar word of its clause, else the previous one."""
    for q in range(k + 1, len(words)):
        w = words[q]
        if isinstance(w, str):  # clause end
            break
        if w.__class__ is Word and w.polar:
            return q
    for q in range(k - 1, -1, -1):
        w = words[q]
        if isinstance(w, str):
            break
        if w.__class__ is Word and w.polar and w.kind != SCAFFOLD:
            return q
    return None


def conflicts(a: Analysis, b: Analysis) -> bool:
    """One step asserts a word the other denies ("opens" / "does not open", "stays closed")."""
    return bool(
        a.denied and not a.denied.isdisjoint(b.asserted) or b.denied and not b.denied.isdisjoint(a.asserted)
    )
