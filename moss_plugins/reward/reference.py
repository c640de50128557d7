"""A ground truth prepared for scoring (parsed, its steps prepared for the configured similarity: once per content,
also across threads), and a model output cut into steps with caps that may follow that reference."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..single_flight import SingleFlight
from . import registry
from .config import RewardConfig
from .ground_truth import GroundTruth, cache_key, parse_ground_truth
from .lexicon import analyse
from .timing import reference_times


@dataclass(frozen=True, eq=False)
class Reference:
    """A ground truth with its steps prepared for the configured similarity (built once per reference)."""

    truth: GroundTruth
    prepared: Any
    together: tuple  # (first, last + 1) of each run of two or more consecutive steps over the same span

    @property
    def n_steps(self) -> int:
        return len(self.truth.trace)

    # Read only by the options that need them (polarity, time_weight): the paper preset never computes them.
    # Two threads may both compute one; they store equal values.
    @cached_property
    def claims(self) -> tuple:
        """Per step: its lexicon.analyse (what it asserts and denies)."""
        return tuple(analyse(t) for t in self.truth.step_texts)

    @cached_property
    def times(self) -> list:
        """Per step: (span, times its text states)."""
        return reference_times(self.truth.step_texts, [s.t for s in self.truth.trace])


def _reference(ground_truth_json: str | bytes, similarity) -> Reference:
    truth = parse_ground_truth(ground_truth_json)
    return Reference(truth, similarity.prepare(truth.step_texts), _same_span_runs([s.t for s in truth.trace]))


def _same_span_runs(spans: list) -> tuple:
    runs, start = [], 0
    for k in range(1, len(spans) + 1):
        if k == len(spans) or spans[k] is None or spans[k] != spans[start]:
            if k - start > 1 and spans[start] is not None:
                runs.append((start, k))
            start = k
    return tuple(runs)


# Prepared references by (content, similarity component): keyed on the component itself, not its name, so a
# name registered again never gets what the previous component prepared. Single-flight: a GRPO group's rollouts arrive together, and
# those that miss at once wait for the first one's preparation instead of each preparing the same reference.
REFERENCES = SingleFlight()
REFERENCE_CACHE_SIZE = 4096


def prepare_reference(ground_truth: Any, config: RewardConfig) -> Reference:
    """Parse a ground truth and prepare its steps: once per distinct content, also across threads."""
    if isinstance(ground_truth, Reference):
        return ground_truth
    key, similarity = cache_key(ground_truth), registry.similarity(config)
    return REFERENCES.get((key, similarity), lambda: _reference(key, similarity), REFERENCE_CACHE_SIZE)


@functools.lru_cache(maxsize=1024)
def _capped(config: RewardConfig, n_steps: int, longest: int, chars: int) -> RewardConfig:
    # Not through RewardConfig's checks: their bounds are on what an option may ask for, while these caps follow
    # the data (a long reference costs what it costs; `moss data validate` warns about such traces).
    capped = copy.copy(config)
    for name, value in (
        ("max_steps", 2 * n_steps),
        ("max_step_chars", 2 * longest),
        ("max_trace_chars", 3 * chars),
    ):
        object.__setattr__(capped, name, max(getattr(config, name), value))
    return capped


def segmentation_config(config: RewardConfig, ref: Reference) -> RewardConfig:
    """The configuration the segmenter sees: with ``caps_follow_reference`` its step and character caps leave
    room for twice the reference's steps (and three times its text), so a long reference matches itself."""
    if not config.caps_follow_reference:
        return config
    texts = ref.truth.step_texts
    lengths = [len(t) for t in texts]
    return _capped(config, len(texts), max(lengths), sum(lengths))


def segment(text: str, ref: Reference, config: RewardConfig) -> list[str]:
    return registry.segmenter(config)(text, segmentation_config(config, ref))
