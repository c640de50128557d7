"""Reward configuration. Defaults and the reasons for them are in the README ("The reward")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from . import registry
from .rouge import normalized_weights

ALIGNMENTS = ("monotone", "dtw")


class ConfigError(ValueError):
    """The reward configuration is invalid."""


DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# What each preset sets for the options left at None. "paper" is MOSS-ChatV's reward exactly as this package
# computed it before the default changed (ROUGE-1/2/L step cost, subsequence DTW with jump step 2): for
# reproducing the paper. "default" fixes what that reward pays for (README, "The default and the paper preset").
PRESETS: dict[str, dict[str, Any]] = {
    "default": {"similarity": "facts", "alignment": "monotone", "polarity": True, "time_weight": 0.5,
                "order_penalty": 1.0, "negation_penalty": 1.0, "caps_follow_reference": True},
    "paper": {"similarity": "rouge", "alignment": "dtw", "polarity": False, "time_weight": 0.0,
              "order_penalty": 0.0, "negation_penalty": 0.0, "caps_follow_reference": False},
}  # fmt: skip


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
    # "monotone": one predicted step per reference step, in order; "dtw": the paper's subsequence DTW.
    alignment: str | None = None
    # Subsequence DTW may skip up to max_jump - 1 predicted steps between two reference steps (paper: 2);
    # the monotone alignment skips any number (the padding term charges for them).
    max_jump: int = 2
    similarity: str | None = None
    rouge_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    # "facts" similarity: weight of a fact word (number, colour) relative to another content word.
    fact_weight: float = 3.0
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
    max_steps: int = 64
    max_step_chars: int = 600
    max_trace_chars: int = 20_000
    # Plugin reward terms: ((name, weight), ...); given as a {name: weight} mapping.
    extra_terms: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ConfigError(f"invalid reward configuration: preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        try:
            self._validate()
        except (TypeError, ValueError, KeyError) as e:
            raise ConfigError(f"invalid reward configuration: {e.args[0] if e.args else e}") from None

    def _validate(self):
        for name in ("alpha", "acc_weight", "format_weight", "process_weight", "padding_weight"):
            if not isinstance(getattr(self, name), (int, float)) or not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if not 0 <= self.padding_tolerance < 1:
            raise ValueError(f"padding_tolerance must be in [0, 1), got {self.padding_tolerance!r}")
        for name in ("max_jump", "max_steps", "max_step_chars", "max_trace_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("gate_process", "polarity", "caps_follow_reference"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("time_weight", "semantic_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        for name in ("order_penalty", "negation_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
                raise ValueError(f"{name} must be a number in [0, 10], got {value!r}")
        if isinstance(self.fact_weight, bool) or not isinstance(self.fact_weight, (int, float)) or not 0 < self.fact_weight <= 100:
            raise ValueError(f"fact_weight must be a number in (0, 100], got {self.fact_weight!r}")
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {list(ALIGNMENTS)}, got {self.alignment!r}")
        if not isinstance(self.embedding_model, str) or not self.embedding_model.strip():
            raise ValueError(f"embedding_model must be a sentence-transformers model name or folder, got {self.embedding_model!r}")
        normalized_weights(self.rouge_weights)
        registry.segmenter(self.segmenter)
        registry.similarity(self.similarity)
        for name, weight in self.extra_terms:
            registry.reward_term(name)
            if not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ValueError(f"extra_terms[{name!r}] weight must be a finite number, got {weight!r}")

    @classmethod
    def from_kwargs(cls, **overrides: Any) -> RewardConfig:
        """A configuration from keyword overrides (as verl's ``reward_kwargs`` or Hydra pass them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown reward option(s) {unknown}; valid options: {sorted(known)}")
        values = {k: _plain(v) for k, v in overrides.items()}
        if "rouge_weights" in values:
            values["rouge_weights"] = tuple(values["rouge_weights"])
        if "extra_terms" in values:
            terms = values["extra_terms"] or {}
            if not isinstance(terms, Mapping):
                raise ConfigError(f"extra_terms must map term names to weights, got {terms!r}")
            values["extra_terms"] = tuple(sorted(terms.items()))
        if isinstance(values.get("alpha"), int):
            values["alpha"] = float(values["alpha"])
        return cls(**values)


def _plain(value: Any) -> Any:
    """OmegaConf containers (from Hydra) to plain Python."""
    if hasattr(value, "_content") and hasattr(value, "_get_node"):
        from omegaconf import OmegaConf  # only present when called from Hydra

        return OmegaConf.to_container(value, resolve=True)
    return value
