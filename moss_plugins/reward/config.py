"""Reward configuration. Defaults and the reasons for them are in the README ("The reward")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from . import registry
from .rouge import normalized_weights


class ConfigError(ValueError):
    """The reward configuration is invalid."""


@dataclass(frozen=True)
class RewardConfig:
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
    # Subsequence DTW may skip up to max_jump - 1 predicted steps between two reference steps (paper: 2).
    max_jump: int = 2
    similarity: str = "rouge"
    rouge_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    segmenter: str = "default"
    max_steps: int = 64
    max_step_chars: int = 600
    max_trace_chars: int = 20_000
    # Plugin reward terms: ((name, weight), ...); given as a {name: weight} mapping.
    extra_terms: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self):
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
        if not isinstance(self.gate_process, bool):
            raise ValueError(f"gate_process must be true or false, got {self.gate_process!r}")
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
