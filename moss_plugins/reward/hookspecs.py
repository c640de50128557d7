"""The plugin contract: what another installed package may add to the reward, and how.

A distribution advertises each component as an entry point in the group of its kind
(:data:`moss_plugins.reward.registry.GROUPS`). The entry point's name is the name a reward configuration selects (``segmenter=``, ``similarity=``,
``extra_terms={name: weight}``); its value is ``module:attribute``, the component itself (a class is
instantiated once, without arguments)::

    [project.entry-points."moss_plugins.similarities"]
    embedding = "my_package.similarity:EmbeddingSimilarity"

    [project.entry-points."moss_plugins.segmenters"]
    sentences = "my_package.segment:sentences"

    [project.entry-points."moss_plugins.reward_terms"]
    hedging = "my_package.terms:hedging"

Only the names a configuration selects are imported, when it is validated: a plugin that fails to import is an
error (naming its entry point and distribution) for the configurations that select it, and for no other. A name
is unique within its kind, built-ins included; two providers of one name are an error, naming both, when it is
selected. ``moss plugins`` lists the names from the install metadata without importing anything.
"""

from __future__ import annotations

# Nothing imports this module at run time: it is the contract a plugin author reads (and a type checker checks).

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .config import RewardConfig
    from .score import TermContext


class Segmenter(Protocol):
    """Cuts a model output into steps. ``text`` is the raw output; ``moss_plugins.output_format.think_body``
    extracts the reasoning the way the default segmenter does."""

    def __call__(self, text: str, config: RewardConfig) -> list[str]: ...


class SimilarityFunction(Protocol):
    """A step similarity in its simplest form: values in [0, 1], shape [n_ref, n_pred]."""

    def __call__(self, pred_steps: list[str], ref_steps: list[str]) -> ArrayLike: ...


class Similarity(Protocol):
    """A step similarity that prepares each reference once (the built-ins index its words there).

    ``matrix`` returns values in [0, 1] of shape [n_ref, n_pred]; for a plugin, values outside are clipped, NaN
    counts as 0 and another shape is a ``PluginError`` for that rollout (its ``reason`` says so)."""

    def prepare(self, ref_steps: list[str]) -> Any: ...

    def matrix(self, prepared: Any, pred_steps: list[str], config: RewardConfig) -> ArrayLike: ...


class RewardTerm(Protocol):
    """An extra reward term: the score adds ``weight * term(ctx)`` for each name in ``extra_terms``."""

    def __call__(self, ctx: TermContext) -> float: ...
