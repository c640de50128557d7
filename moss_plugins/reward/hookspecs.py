"""The plugin contract: what another installed package may add to the reward.

A plugin is a module (or object) with functions named like the specs below, marked with ``hookimpl``, and
advertised in its distribution's metadata::

    [project.entry-points.moss_plugins]
    my_plugin = "my_package.moss_plugin"

Everything it returns is chosen by name in the reward configuration (``segmenter=``, ``similarity=``,
``extra_terms={name: weight}``); names must be unique across all installed plugins.
"""

from __future__ import annotations

import pluggy

PROJECT = "moss_plugins"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def moss_segmenters() -> dict:
    """Step segmenters: ``{name: fn(text: str, config: RewardConfig) -> list[str]}``. ``text`` is the raw model
    output; ``moss_plugins.output_format.think_body`` extracts the reasoning the way the default segmenter does."""


@hookspec
def moss_similarities() -> dict:
    """Step similarities in [0, 1], either ``{name: fn(pred_steps, ref_steps) -> array[n_ref, n_pred]}`` or
    ``{name: obj}`` with ``obj.prepare(ref_steps)`` (run once per reference) and
    ``obj.matrix(prepared, pred_steps, config) -> array[n_ref, n_pred]``."""


@hookspec
def moss_reward_terms() -> dict:
    """Extra reward terms: ``{name: fn(ctx: TermContext) -> float}``; the score adds ``weight * fn(ctx)`` for
    each name in ``extra_terms``."""
