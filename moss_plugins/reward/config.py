"""Reward configuration. Defaults and the reasons for them are in docs/reward.md."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..options import Rule, check, check_value, flag, integer, is_number, known, number, one_of, text
from . import registry
from .segment import DEFAULT_MAX_STEP_CHARS, DEFAULT_MAX_STEPS, DEFAULT_MAX_TRACE_CHARS
from .static_vectors import STATIC_MODEL

ALIGNMENTS = ("monotone", "dtw")
DEFAULT_EMBEDDING_MODEL = STATIC_MODEL  # shipped static vectors: offline, ~1/3 of the lexical default's speed


class ConfigError(ValueError):
    """The reward configuration is invalid."""


WHERE = "reward option "  # how an error names an option: "reward option alpha=1000.0: must be ..."


# Bounds that keep every valid configuration cheap and finite: T(D) is already a step function at |alpha| = 100
# (and exp(±alpha) far from overflow); time grows linearly in max_jump (a jump longer than the trace is no jump)
# and in the steps and characters read. With all of them at their maximum a rollout of 128 steps against 16
# reference steps scores in ~3.5 ms (~2 ms under the defaults; 2-core Xeon VM).
MAX_ALPHA = 100.0
MAX_WEIGHT = 1000.0
MAX_JUMP = 64
MAX_STEPS = 128
MAX_STEP_CHARS = 10_000
MAX_TRACE_CHARS = 50_000


def name_of(kind: str) -> Rule:
    """The name of a component of one kind (``moss plugins`` lists them); whether one is installed under it is
    checked with its options (:meth:`RewardConfig.__post_init__`)."""

    def check(value):
        if not isinstance(value, str):
            raise TypeError(f"must be the name of a {kind}")
        return value

    return check


def rouge_weights(value: Any) -> tuple[float, float, float]:
    if not (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and all(is_number(w) for w in value)
        and all(0 <= w <= MAX_WEIGHT for w in value)
        and sum(value) > 0
    ):
        raise ValueError(
            f"must be three numbers in [0, {MAX_WEIGHT:g}] (ROUGE-1, ROUGE-2, ROUGE-L), not all zero"
        )
    return tuple(float(w) for w in value)


_WEIGHT = number(-MAX_WEIGHT, MAX_WEIGHT)


def extra_terms(value: Any) -> tuple[tuple[str, float], ...]:
    """{name: weight} (or its sorted pairs) of installed reward terms."""
    pairs = value.items() if isinstance(value, Mapping) else value or ()
    try:
        terms = tuple(sorted((name, weight) for name, weight in pairs))
    except (TypeError, ValueError):
        raise ValueError("must be a mapping of reward term names to weights") from None
    for name, weight in terms:
        name_of("reward term")(name)
        try:
            _WEIGHT(weight)
        except ValueError as e:
            raise ValueError(f"[{name!r}] weight {e}") from None
    return tuple((name, float(weight)) for name, weight in terms)


def plugin_options(value: Any) -> tuple[tuple[str, str], ...]:
    """{component name: {option: value}} (or its sorted pairs): each block kept as canonical JSON text, which
    hashes (the configuration is a cache key) and is handed to the component as a fresh dict."""
    pairs = value.items() if isinstance(value, Mapping) else value or ()
    try:
        blocks = sorted((name, block) for name, block in pairs)
    except (TypeError, ValueError):
        raise ValueError(
            "must be a mapping of component names to their options, e.g. {embedding: {model: ...}}"
        ) from None
    canonical = []
    for name, block in blocks:
        name_of("component")(name)
        try:
            block = json.loads(block) if isinstance(block, str) else block
            if not isinstance(block, Mapping) or not all(isinstance(k, str) for k in block):
                raise TypeError
            canonical.append((name, json.dumps(block, sort_keys=True, allow_nan=False)))
        except (TypeError, ValueError):
            raise ValueError(
                f"[{name!r}] must be a mapping of option names to JSON values, not {block!r:.80}"
            ) from None
    return tuple(canonical)


# What each preset sets for the options left at None. "paper" is MOSS-ChatV's reward exactly as this package
# computed it before the default changed (ROUGE-1/2/L step cost, subsequence DTW with jump step 2): for
# reproducing the paper. "default" fixes what that reward pays for (docs/reward.md, "The default and the paper preset").
PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "similarity": "facts",
        "alignment": "monotone",
        "polarity": True,
        "time_weight": 0.5,
        "order_penalty": 1.0,
        "negation_penalty": 1.0,
        "caps_follow_reference": True,
        "time_order": True,
        "filler_similarity": 0.2,
    },
    "paper": {
        "similarity": "rouge",
        "alignment": "dtw",
        "polarity": False,
        "time_weight": 0.0,
        "order_penalty": 0.0,
        "negation_penalty": 0.0,
        "caps_follow_reference": False,
        "time_order": False,
        "filler_similarity": 0.0,
    },
}

# Every option and its check (moss_plugins/options.py). A new option joins with one line; a test holds every
# field to having one.
CHECKS: dict[str, Rule] = {
    "preset": one_of(PRESETS),
    "alpha": number(-MAX_ALPHA, MAX_ALPHA),
    "acc_weight": _WEIGHT,
    "format_weight": _WEIGHT,
    "process_weight": _WEIGHT,
    "gate_process": flag,
    "padding_weight": _WEIGHT,
    "padding_tolerance": number(0.0, 1.0, high_open=True),
    "filler_similarity": number(0.0, 1.0),
    "time_order": flag,
    "alignment": one_of(ALIGNMENTS),
    "max_jump": integer(1, MAX_JUMP),
    "similarity": name_of("step similarity"),
    "rouge_weights": rouge_weights,
    "fact_weight": number(0.0, 100.0, low_open=True),
    "full_match": number(0.0, 1.0, low_open=True),
    "polarity": flag,
    "time_weight": number(0.0, 1.0),
    "order_penalty": number(0.0, 10.0),
    "negation_penalty": number(0.0, 10.0),
    "semantic_weight": number(0.0, 1.0),
    "embedding_model": text,
    "caps_follow_reference": flag,
    "segmenter": name_of("segmenter"),
    "max_steps": integer(1, MAX_STEPS),
    "max_step_chars": integer(1, MAX_STEP_CHARS),
    "max_trace_chars": integer(1, MAX_TRACE_CHARS),
    "extra_terms": extra_terms,
    "plugins": plugin_options,
}


@dataclass(frozen=True)
class RewardConfig:
    # "default" or "paper": fills every option below that is left at None (PRESETS).
    preset: str = "default"
    # Process reward T(D) = (exp(-alpha*D) - exp(-alpha)) / (1 - exp(-alpha)); alpha = 0 is 1 - D.
    alpha: float = 1.0
    acc_weight: float = 1.0
    format_weight: float = 0.2
    process_weight: float = 0.5
    # Pay the process reward only when the answer is right.
    gate_process: bool = False
    # Share of the trace's text outside the alignment that is free; beyond it costs up to padding_weight.
    padding_weight: float = 0.5
    padding_tolerance: float = 0.25
    # An unaligned step whose similarity to every reference step is below this is filler: charged from its
    # first character, not after the tolerance (0 = off).
    filler_similarity: float | None = None
    # Reference steps over the same span may be stated in any order (their times do not order them).
    time_order: bool | None = None
    # "monotone": one predicted step per reference step, in order; "dtw": the paper's subsequence DTW.
    alignment: str | None = None
    # Subsequence DTW may skip up to max_jump - 1 predicted steps between two reference steps (paper: 2);
    # the monotone alignment skips any number (the padding term charges for them).
    max_jump: int = 2
    similarity: str | None = None
    rouge_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    # "facts" similarity: weight of a fact word (number, colour) relative to another content word.
    fact_weight: float = 3.0
    # "facts" similarity: word overlap from which two steps count as the same statement (a faithful rewording
    # rarely shares more than ~60 % of its weighted words); 1 = the overlap itself.
    full_match: float = 0.6
    # A step that negates what the reference step asserts (or the reverse) does not match it.
    polarity: bool | None = None
    # Share of a step's similarity lost when every time it states misses the reference step's times.
    time_weight: float | None = None
    # Reference steps' worth of distance added for a step stated out of order / for a step negated.
    order_penalty: float | None = None
    negation_penalty: float | None = None
    # Share of the step similarity taken from sentence-embedding cosine (0 = none; needs sentence-transformers).
    semantic_weight: float = 0.0
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    # The step and character caps grow with the reference, so a long reference can be matched in full.
    caps_follow_reference: bool | None = None
    segmenter: str = "default"
    max_steps: int = DEFAULT_MAX_STEPS
    max_step_chars: int = DEFAULT_MAX_STEP_CHARS
    max_trace_chars: int = DEFAULT_MAX_TRACE_CHARS
    # Plugin reward terms: ((name, weight), ...); given as a {name: weight} mapping.
    extra_terms: tuple[tuple[str, float], ...] = field(default=())
    # A component's own options, by its name: {name: {option: value}} (hookspecs.py: a class gets them as keyword
    # arguments). Kept as ((name, canonical JSON), ...).
    plugins: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        """The preset fills the options left at None; then each option goes through its check (in CHECKS) and is
        kept in its canonical form (2 -> 2.0, lists -> tuples)."""
        preset = check_value(WHERE, "preset", self.preset, CHECKS["preset"], ConfigError)
        for name, value in PRESETS[preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check(self, CHECKS, WHERE, ConfigError)
        self._resolve_components()

    def _resolve_components(self) -> None:
        """Each selected component, built with its options block: an installed plugin is loaded (and checked by
        pluggy) here, before the first rollout, and an options block for a component not selected is refused."""
        selected = [("segmenter", "segmenter", self.segmenter), ("similarity", "similarity", self.similarity)]
        selected += [("reward_term", "extra_terms", name) for name, _ in self.extra_terms]
        for kind, option, name in selected:
            try:
                registry.component(kind, name, self.options(name))
            except registry.OptionsError as e:
                raise ConfigError(
                    f"reward option plugins.{name}={json.loads(self.options(name))!r:.80}: {e}"
                ) from None
            except KeyError as e:
                raise ConfigError(f"reward option {option}={name!r:.80}: {e.args[0]}") from None
        unused = sorted({name for name, _ in self.plugins} - {name for _, _, name in selected})
        if unused:
            raise ConfigError(
                f"reward option plugins.{unused[0]}: no selected segmenter, similarity or reward term "
                f"is called {unused[0]!r} (selected: {', '.join(sorted({n for _, _, n in selected}))})"
            )

    def options(self, name: str) -> str:
        """The options block of component ``name`` as canonical JSON text ("{}" when the configuration gives none)."""
        for block_name, block in self.plugins:
            if block_name == name:
                return block
        return registry.NO_OPTIONS

    @classmethod
    def from_kwargs(cls, **overrides: Any) -> RewardConfig:
        """A configuration from keyword overrides (as verl's ``reward_kwargs`` or Hydra pass them)."""
        known(cls, overrides, ConfigError, what="reward option")
        return cls(**{k: _plain(v) for k, v in overrides.items()})


def _plain(value: Any) -> Any:
    """OmegaConf containers (from Hydra) to plain Python."""
    if hasattr(value, "_content") and hasattr(value, "_get_node"):
        from omegaconf import OmegaConf  # only present when called from Hydra

        return OmegaConf.to_container(value, resolve=True)
    return value


_CONFIGS: dict[tuple, RewardConfig] = {}  # typed overrides -> configuration; bounded by clearing when full


def _typed(value: Any) -> tuple:
    """``value`` with its type, also inside lists and mappings: 1 and True, or 2 and 2.0, are equal (with equal
    hashes) to Python, so an untyped cache key would let one stand in for the other, valid or not."""
    if isinstance(value, (list, tuple)):
        return type(value), tuple(_typed(v) for v in value)
    if isinstance(value, Mapping):
        return type(value), tuple(sorted((k, _typed(v)) for k, v in value.items()))
    return type(value), value


def resolve_config(**overrides: Any) -> RewardConfig:
    """The defaults with keyword overrides applied; cached for repeated identical (also in type) kwargs."""
    try:
        key = tuple(sorted((name, _typed(value)) for name, value in overrides.items()))
        return _CONFIGS[key]
    except TypeError:  # unhashable or unsortable values (e.g. OmegaConf containers)
        return RewardConfig.from_kwargs(**overrides)
    except KeyError:
        config = RewardConfig.from_kwargs(**overrides)
        if len(_CONFIGS) >= 64:
            _CONFIGS.clear()
        _CONFIGS[key] = config
        return config
