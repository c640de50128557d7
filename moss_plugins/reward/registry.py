"""Named segmenters, similarities and reward terms: the built-in ones, those registered by the running program
and those installed distributions advertise as entry points (the contract: :mod:`.hookspecs`).

A name is resolved when a configuration selects it, and only its own entry points are imported then: a broken
plugin that nothing selects is never imported, so it cannot break the default reward or another plugin.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable

import numpy as np

from . import builtin

BUILTIN, REGISTERED = "builtin", "registered"
_BUILTINS = {"segmenter": builtin.SEGMENTERS, "similarity": builtin.SIMILARITIES, "reward_term": builtin.REWARD_TERMS}
# Kind of component -> its entry-point group.
GROUPS = {
    "segmenter": "moss_plugins.segmenters",
    "similarity": "moss_plugins.similarities",
    "reward_term": "moss_plugins.reward_terms",
}
# Replaced, never changed in place, by each registration (under _REGISTERING): a thread that is reading the names
# keeps reading the dict it started with. _generation counts registrations; lookups are cached per generation, so
# one made from the names before a registration is never served after it.
_registered: dict[str, dict[str, object]] = {kind: {} for kind in GROUPS}
_REGISTERING = threading.Lock()
_generation = 0
# The one group of the first plugin form (a module of pluggy hooks), named only to tell its users how to move.
_OLD_GROUP = "moss_plugins"
_EXPECTED = {"segmenter": "fn(text, config) -> steps",
             "similarity": "fn(pred_steps, ref_steps) or an object with prepare() and matrix()",
             "reward_term": "fn(ctx) -> float"}  # fmt: skip


class PluginError(RuntimeError):
    """A selected plugin cannot be loaded or breaks the contract in :mod:`moss_plugins.reward.hookspecs`."""


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _dist(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist else "?"


def _load(kind: str, ep: importlib.metadata.EntryPoint) -> object:
    try:
        obj = ep.load()
        return obj() if isinstance(obj, type) else obj
    except Exception as e:
        dist = _dist(ep)
        raise PluginError(
            f"{_label(kind)} plugin {ep.name!r} ({ep.value}) from distribution {dist!r} failed to load: {e!r}. "
            f"Fix or uninstall {dist!r}, or choose another {_label(kind)}."
        ) from e


def _sources(kind: str, name: str | None = None) -> list[tuple[str, str, object]]:
    """``(name, provider, component or its entry point)`` for each provider of a name of one kind (of ``name``
    only, when given). Reads install metadata; imports nothing."""
    local = ((BUILTIN, _BUILTINS[kind]), (REGISTERED, _registered[kind]))
    found = [(n, provider, obj) for provider, named in local for n, obj in named.items() if name in (None, n)]
    selected = importlib.metadata.entry_points(group=GROUPS[kind], **({} if name is None else {"name": name}))
    return found + [(ep.name, _dist(ep), ep) for ep in selected]


def _clash(kind: str, name: str, providers: list[str]) -> PluginError:
    both = " and ".join(repr(p) for p in providers)
    return PluginError(f"{_label(kind)} name {name!r} is provided by both {both}: uninstall all but one of them")


def available(kind: str) -> dict[str, str]:
    """``{name: provider}`` of one kind (``"segmenter"``, ``"similarity"``, ``"reward_term"``); the provider is
    "builtin", "registered" or the distribution. From install metadata only: nothing is imported."""
    providers: dict[str, list[str]] = {}
    for name, provider, _ in _sources(kind):
        providers.setdefault(name, []).append(provider)
    for name, found in providers.items():
        if len(found) > 1:
            raise _clash(kind, name, found)
    return {name: found[0] for name, found in sorted(providers.items())}


def _unknown(kind: str, name: str) -> KeyError:
    names = sorted({n for n, _, _ in _sources(kind)})
    message = f"unknown {_label(kind)} {name!r}; installed: {', '.join(names) or 'none'}"
    old = sorted({_dist(ep) for ep in importlib.metadata.entry_points(group=_OLD_GROUP)})
    if old:
        message += (f"; {', '.join(map(repr, old))} still use(s) the entry-point group {_OLD_GROUP!r}, which is no "
                    f"longer read: name each component in {GROUPS[kind]!r} (moss_plugins/reward/hookspecs.py)")
    return KeyError(message)


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


def _checked(kind: str, name: str, provider: str, obj: object) -> object:
    """A third-party component held to the contract: a similarity wrapped so that a broken one fails loudly."""
    if kind == "similarity":
        if callable(getattr(obj, "prepare", None)) and callable(getattr(obj, "matrix", None)):  # hookspecs.Similarity
            return _CheckedSimilarity(name, obj)
        if callable(obj):
            return _CheckedSimilarity(name, _FunctionSimilarity(obj))
    elif callable(obj):
        return obj
    raise PluginError(f"{_label(kind)} {name!r} from {provider!r} is a {type(obj).__name__}, not "
                      f"{_EXPECTED[kind]} (moss_plugins/reward/hookspecs.py)")  # fmt: skip


@functools.lru_cache(maxsize=256)
def _component(kind: str, name: str, generation: int) -> object:
    sources = _sources(kind, name)
    if not sources:
        raise _unknown(kind, name)
    if len(sources) > 1:
        raise _clash(kind, name, [provider for _, provider, _ in sources])
    _, provider, obj = sources[0]
    if isinstance(obj, importlib.metadata.EntryPoint):
        obj = _load(kind, obj)
    return obj if provider == BUILTIN else _checked(kind, name, provider, obj)


def register(kind: str, name: str, obj: object) -> None:
    """Adds a component defined by the running program (a script, a notebook) under ``name``, held to the same
    contract as an installed one; it replaces an earlier registration of that name. Safe while other threads
    score: each lookup sees the names before or after it, never a dict changing under it."""
    global _generation
    with _REGISTERING:
        _registered[kind] = {**_registered[kind], name: obj}
        _generation += 1


def segmenter(name: str) -> Callable:
    return _component("segmenter", name, _generation)


def similarity(name: str):
    return _component("similarity", name, _generation)


def reward_term(name: str) -> Callable:
    return _component("reward_term", name, _generation)
