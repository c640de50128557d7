"""The plugin contract (pluggy, project ``moss_plugins``): the hooks by which a plugin adds segmenters, step
similarities and reward terms to the reward, the hook the reward calls on every scored rollout, and what each
component is called with. The built-ins (:mod:`.builtin`) are a plugin like any other.

A plugin is a module (or any object) whose hook functions carry ``@hookimpl``. An installed distribution
advertises each component as an entry point in the group of its kind (:data:`.registry.GROUPS`): the entry
point's name is the component's name, the one a reward configuration selects (``segmenter=``, ``similarity=``,
``extra_terms={name: weight}``); its value is the plugin that provides it (one module may provide several)::

    [project.entry-points."moss_plugins.similarities"]
    embedding = "my_package.plugin"

    [project.entry-points."moss_plugins.segmenters"]
    sentences = "my_package.plugin"

    [project.entry-points."moss_plugins.reward_terms"]
    hedging = "my_package.plugin"

Only the entry points a configuration selects are loaded, when the configuration is built (``RewardConfig``,
before the first rollout): pluggy checks the plugin's hooks against this module then, so a hook with an argument
its spec lacks, or a hook this module does not define, refuses the configuration naming the entry point and its
module; so does a component whose call signature does not fit its protocol below. A plugin nobody selects is
never imported, and ``moss plugins`` lists the names from the install metadata alone. A name is unique within
its kind, built-ins included. A running program (a script, a notebook) adds a plugin with
``moss_plugins.reward.registry.register(plugin)``.

A component's own options come from its block in the reward configuration, ``plugins: {name: {...}}``
(``reward.moss_dtw.plugins.<name>.<option>`` in verl), never from the environment: a component that takes
options is a class, built once per distinct block with the block as keyword arguments (a misspelt option is then
refused when the configuration is built); a component given as an instance or a function takes none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .config import RewardConfig
    from .score import TermContext

PROJECT = "moss_plugins"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


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
    counts as 0 and another shape is a ``PluginError`` for that rollout (its ``reason`` says so). The reward then
    rescales it the same way for every similarity: blended with embedding cosine (``semantic_weight``), scaled
    by the stated times' agreement (``time_weight``) and lowered where one step denies the other
    (``polarity``); :mod:`moss_plugins.reward.similarity` says how."""

    def prepare(self, ref_steps: list[str]) -> Any: ...

    def matrix(self, prepared: Any, pred_steps: list[str], config: RewardConfig) -> ArrayLike: ...


class RewardTerm(Protocol):
    """An extra reward term: the score adds ``weight * term(ctx)`` for each name in ``extra_terms``, and the
    result reports the term under its name."""

    def __call__(self, ctx: TermContext) -> float: ...


@hookspec
def moss_segmenters() -> Mapping[str, Segmenter | type]:
    """The segmenters this plugin provides, by name."""


@hookspec
def moss_similarities() -> Mapping[str, Similarity | SimilarityFunction | type]:
    """The step similarities this plugin provides, by name."""


@hookspec
def moss_reward_terms() -> Mapping[str, RewardTerm | type]:
    """The reward terms this plugin provides, by name."""


@hookspec
def moss_scored(result: dict, ctx: TermContext, config: RewardConfig) -> None:
    """Called by the reward for every rollout it scored (not for one whose scoring failed), after the extra
    terms, with the final ``result``: to log or count what the reward pays for. Every registered plugin
    observes every configuration's rollouts; it reads ``result`` and must not change it. An exception is
    contained like any scoring failure: that rollout scores 0 with ``reason`` ``error:...``."""
