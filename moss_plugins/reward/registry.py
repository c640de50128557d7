"""Named segmenters, similarities and reward terms from the built-in plugin and every installed one."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable

import numpy as np
import pluggy

from . import builtin, hookspecs


class PluginError(RuntimeError):
    """An installed plugin cannot be loaded or breaks the contract in :mod:`moss_plugins.reward.hookspecs`."""


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name="builtin")
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        dist = ep.dist.name if ep.dist else "?"
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as e:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) from distribution {dist!r} failed to load: {e!r}. "
                f"Fix or uninstall {dist!r}."
            ) from e
    return pm


def _named(hook: str) -> dict[str, tuple[object, str]]:
    found: dict[str, tuple[object, str]] = {}
    for impl in getattr(plugin_manager().hook, hook).get_hookimpls():
        provided = impl.function() or {}
        if not isinstance(provided, dict):
            raise PluginError(f"plugin {impl.plugin_name!r}: {hook}() must return a dict, got {type(provided).__name__}")
        for name, obj in provided.items():
            if name in found:
                raise PluginError(
                    f"{hook}: name {name!r} is provided by both {found[name][1]!r} and {impl.plugin_name!r}"
                )
            found[name] = (obj, impl.plugin_name)
    return found


def available(hook: str) -> dict[str, str]:
    """``{name: plugin}`` for one of the hooks (e.g. ``"moss_similarities"``)."""
    return {name: plugin for name, (_, plugin) in _named(hook).items()}


def _lookup(hook: str, kind: str, name: str) -> tuple[object, str]:
    named = _named(hook)
    if name not in named:
        raise KeyError(f"unknown {kind} {name!r}; installed: {', '.join(sorted(named)) or 'none'}")
    return named[name]


class _FunctionSimilarity:
    """Adapts a plain ``fn(pred_steps, ref_steps)`` to the prepare/matrix protocol."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def prepare(self, ref_steps):
        return list(ref_steps)

    def matrix(self, ref_steps, pred_steps, config):
        return self.fn(pred_steps, ref_steps)


class _CheckedSimilarity:
    """Holds a third-party similarity to the contract: shape [n_ref, n_pred], values clipped into [0, 1]."""

    def __init__(self, name: str, impl):
        self.name, self.impl = name, impl

    def prepare(self, ref_steps):
        return len(ref_steps), self.impl.prepare(ref_steps)

    def matrix(self, prepared, pred_steps, config):
        n_ref, inner = prepared
        sim = np.asarray(self.impl.matrix(inner, pred_steps, config), dtype=np.float64)
        if sim.shape != (n_ref, len(pred_steps)):
            raise PluginError(f"similarity {self.name!r} returned shape {sim.shape}, expected {(n_ref, len(pred_steps))}")
        return np.clip(np.nan_to_num(sim, nan=0.0), 0.0, 1.0)


@functools.cache
def segmenter(name: str) -> Callable:
    return _lookup("moss_segmenters", "segmenter", name)[0]


@functools.cache
def similarity(name: str):
    """The named similarity; third-party ones are wrapped so that a broken one fails loudly."""
    impl, plugin = _lookup("moss_similarities", "similarity", name)
    if not hasattr(impl, "matrix"):
        impl = _FunctionSimilarity(impl)
    return impl if plugin == "builtin" else _CheckedSimilarity(name, impl)


@functools.cache
def reward_term(name: str) -> Callable:
    return _lookup("moss_reward_terms", "reward term", name)[0]
