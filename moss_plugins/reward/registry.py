"""Which component a name selects: one pluggy ``PluginManager`` holds the built-ins, the plugins a running
program registers and the installed ones a configuration selected, each checked against :mod:`.hookspecs`.

An installed plugin is loaded when a configuration selects a name it advertises (pluggy's
``load_setuptools_entrypoints(group, name=...)``), never before: one that nothing selects is never imported, so
it cannot break the default reward or another plugin. Pluggy loads the first of two distributions that advertise
one name; the install metadata is read first so that such a clash is an error naming both.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import json
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pluggy

from . import builtin, hookspecs

BUILTIN = "builtin"
# Kind of component -> its entry-point group, and the hook that provides it.
GROUPS = {
    "segmenter": "moss_plugins.segmenters",
    "similarity": "moss_plugins.similarities",
    "reward_term": "moss_plugins.reward_terms",
}
_HOOKS = {
    "segmenter": "moss_segmenters",
    "similarity": "moss_similarities",
    "reward_term": "moss_reward_terms",
}
NO_OPTIONS = "{}"  # the canonical options block of a component the configuration gives none
_CONTRACT = "moss_plugins/reward/hookspecs.py"


class PluginError(RuntimeError):
    """A selected plugin cannot be loaded or breaks the contract in :mod:`moss_plugins.reward.hookspecs`."""


class OptionsError(ValueError):
    """A component's options block does not fit it (the configuration's error, not the plugin's)."""


class _Manager(pluggy.PluginManager):
    def __init__(self):
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.register(builtin, name=BUILTIN)
        self.loaded: dict[tuple[str, str], str] = {}  # (group, entry point name) -> the plugin it loaded
        self.dists: dict[str, str] = {}  # plugin name -> its distribution, for installed plugins

    def register(self, plugin, name=None):
        """A module that provides several components is advertised by several entry points: it is one plugin."""
        if self.is_registered(plugin):
            return self.get_name(plugin)
        return super().register(plugin, name)


# Lookups read the manager and the generation once, and are cached per generation: a registration (under _LOCK)
# bumps it, so a lookup made before one is never served after it.
_pm = _Manager()
_LOCK = threading.RLock()
_generation = 0


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _dist(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist else "?"


def _one_line(error: BaseException) -> str:
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _check_hooks(pm: _Manager, plugin: object) -> None:
    """What pluggy checks only on request: every hook the plugin marks exists (and it marks at least one)."""
    pm.check_pending()
    if not pm.get_hookcallers(plugin):
        raise pluggy.PluginValidationError(
            plugin,
            "it implements no hook: mark its hook functions with "
            f"@moss_plugins.reward.hookspecs.hookimpl ({_CONTRACT})",
        )


def _refused(pm: _Manager, error: pluggy.PluginValidationError, where: str, fix: str = "") -> PluginError:
    """Unregisters the plugin pluggy refused, so nothing is left half-registered, and says why in one line."""
    if pm.is_registered(error.plugin):
        pm.unregister(error.plugin)
    return PluginError(f"{where} breaks the plugin contract ({_CONTRACT}): {_one_line(error)}{fix}")


def _load(pm: _Manager, kind: str, ep: importlib.metadata.EntryPoint) -> None:
    """Loads one entry point with pluggy, which checks the plugin's hooks when it registers it."""
    global _generation
    label, dist = _label(kind), _dist(ep)
    where = f"{label} plugin {ep.name!r} ({ep.value}) from distribution {dist!r}"
    fix = f"Fix or uninstall {dist!r}, or choose another {label}."
    try:
        pm.load_setuptools_entrypoints(GROUPS[kind], name=ep.name)
        plugin = ep.load()  # imported already: the object pluggy registered
        if not pm.is_registered(plugin):
            raise PluginError(
                f"{where} was not loaded: another plugin is registered under the name {ep.name!r} "
                f"({pm.get_plugin(ep.name)!r}). Rename one of the two entry points."
            )
        _check_hooks(pm, plugin)
    except pluggy.PluginValidationError as e:
        raise _refused(pm, e, where, f". {fix}") from None
    except PluginError:
        raise
    except Exception as e:
        raise PluginError(f"{where} failed to load: {e!r}. {fix}") from e
    name = pm.get_name(plugin)
    pm.loaded[(GROUPS[kind], ep.name)] = name
    pm.dists[name] = dist
    _generation += 1


def _named(pm: _Manager, kind: str, impl: pluggy.HookImpl) -> Mapping:
    """What one plugin's hook of ``kind`` provides (None, pluggy's "no result", is nothing)."""
    named = impl.function()
    if named is None:
        return {}
    if not isinstance(named, Mapping):
        raise PluginError(
            f"plugin {_provider(pm, impl.plugin_name)!r}: hook {_HOOKS[kind]} returned a "
            f"{type(named).__name__}, not {{name: {_label(kind)}}} ({_CONTRACT})"
        )
    return named


def _provider(pm: _Manager, plugin_name: str) -> str:
    return pm.dists.get(plugin_name, plugin_name)


def _provided(pm: _Manager, kind: str, name: str) -> list[tuple[str, object]]:
    """``(plugin name, component)`` for each registered plugin that provides ``name`` (plugins are imported)."""
    found = []
    for impl in getattr(pm.hook, _HOOKS[kind]).get_hookimpls():
        named = _named(pm, kind, impl)
        if name in named:
            found.append((impl.plugin_name, named[name]))
    return found


def _clash(kind: str, name: str, providers: list[str]) -> PluginError:
    both = " and ".join(repr(p) for p in providers)
    return PluginError(
        f"{_label(kind)} name {name!r} is provided by both {both}: uninstall all but one of them"
    )


def available(kind: str) -> dict[str, str]:
    """``{name: provider}`` of one kind (``"segmenter"``, ``"similarity"``, ``"reward_term"``); the provider is
    "builtin", a registered plugin's name or the distribution. Imports nothing: installed plugins are read from
    the install metadata, registered ones are imported already."""
    pm, providers = _pm, {}
    from_metadata = set(pm.loaded.values())  # listed below, under their distribution
    for impl in getattr(pm.hook, _HOOKS[kind]).get_hookimpls():
        if impl.plugin_name not in from_metadata:
            for name in _named(pm, kind, impl):
                providers.setdefault(name, []).append(impl.plugin_name)
    for ep in importlib.metadata.entry_points(group=GROUPS[kind]):
        providers.setdefault(ep.name, []).append(_dist(ep))
    for name, found in providers.items():
        if len(found) > 1:
            raise _clash(kind, name, found)
    return {name: found[0] for name, found in sorted(providers.items())}


def _unknown(kind: str, name: str) -> KeyError:
    try:
        names = ", ".join(available(kind)) or "none"
    except PluginError:  # a clash elsewhere: still say what is wrong with this name
        names = "?"
    return KeyError(f"unknown {_label(kind)} {name!r}; installed: {names}")


def _fits(fn: Any, n_args: int) -> bool:
    try:
        inspect.signature(fn).bind(*range(n_args))
    except TypeError:
        return False
    except ValueError:  # no signature to read (a C function): it is called and seen
        pass
    return True


def _shape(kind: str, obj: object) -> str | None:
    """Which protocol of :mod:`.hookspecs` the component follows ("similarity" components: an object with
    prepare and matrix, or a function); None if none."""
    if kind == "similarity":
        prepare, matrix = getattr(obj, "prepare", None), getattr(obj, "matrix", None)
        if callable(prepare) and callable(matrix):
            return "object" if _fits(prepare, 1) and _fits(matrix, 3) else None
        return "function" if callable(obj) and _fits(obj, 2) else None
    return "function" if callable(obj) and _fits(obj, 2 if kind == "segmenter" else 1) else None


_EXPECTED = {
    "segmenter": "fn(text, config) -> steps",
    "similarity": "fn(pred_steps, ref_steps) or an object with prepare(ref_steps) and "
    "matrix(prepared, pred_steps, config)",
    "reward_term": "fn(ctx) -> float",
}


@functools.lru_cache(maxsize=256)
def _instance(cls: type, options: str) -> object:
    """A class component, built once per distinct options block."""
    try:
        return cls(**json.loads(options))
    except (TypeError, ValueError) as e:
        raise OptionsError(f"{cls.__qualname__} refuses these options: {e}") from None


class _FunctionSimilarity:
    """Adapts a plain ``fn(pred_steps, ref_steps)`` to the prepare/matrix protocol."""

    def __init__(self, fn):
        self.fn = fn

    def prepare(self, ref_steps):
        return list(ref_steps)

    def matrix(self, ref_steps, pred_steps, config):
        return self.fn(pred_steps, ref_steps)


class _CheckedSimilarity:
    """Holds a plugin similarity to the contract: shape [n_ref, n_pred], values clipped into [0, 1]."""

    def __init__(self, name: str, impl):
        self.name, self.impl = name, impl

    def prepare(self, ref_steps):
        return len(ref_steps), self.impl.prepare(ref_steps)

    def matrix(self, prepared, pred_steps, config):
        n_ref, inner = prepared
        sim = np.asarray(self.impl.matrix(inner, pred_steps, config), dtype=np.float64)
        if sim.shape != (n_ref, len(pred_steps)):
            raise PluginError(
                f"similarity {self.name!r} returned shape {sim.shape}, expected {(n_ref, len(pred_steps))}"
            )
        return np.clip(np.nan_to_num(sim, nan=0.0), 0.0, 1.0)


@functools.lru_cache(maxsize=256)
def _component(kind: str, name: str, options: str, pm: _Manager, generation: int) -> object:
    group = GROUPS[kind]
    advertised = list(importlib.metadata.entry_points(group=group, name=name))
    if len(advertised) > 1:
        raise _clash(kind, name, [_dist(ep) for ep in advertised])
    ep = advertised[0] if advertised else None
    if ep and (group, name) not in pm.loaded:
        with _LOCK:
            # A plugin of its own distribution may provide the name already (one module, several entry points).
            others = [_provider(pm, p) for p, _ in _provided(pm, kind, name)]
            others = [p for p in others if p != _dist(ep)]
            if others:
                raise _clash(kind, name, [*others, _dist(ep)])
            if (group, name) not in pm.loaded:
                _load(pm, kind, ep)
    found = _provided(pm, kind, name)
    if not found and ep:
        raise PluginError(
            f"{_label(kind)} plugin {ep.name!r} ({ep.value}) from distribution {_dist(ep)!r} does not "
            f"return {name!r} from its {_HOOKS[kind]} hook ({_CONTRACT})"
        )
    if not found:
        raise _unknown(kind, name)
    if len(found) > 1:
        raise _clash(kind, name, [_provider(pm, p) for p, _ in found])
    plugin, obj = found[0]
    if isinstance(obj, type):
        obj = _instance(obj, options)
    elif options != NO_OPTIONS:
        raise OptionsError(
            f"{_label(kind)} {name!r} takes no options (a component with options is a class; {_CONTRACT})"
        )
    shape = _shape(kind, obj)
    if shape is None:
        raise PluginError(
            f"{_label(kind)} {name!r} from {_provider(pm, plugin)!r} is a {type(obj).__name__} that "
            f"does not fit {_EXPECTED[kind]} ({_CONTRACT})"
        )
    if kind != "similarity" or plugin == BUILTIN:
        return obj
    return _CheckedSimilarity(name, obj if shape == "object" else _FunctionSimilarity(obj))


def component(kind: str, name: str, options: str = NO_OPTIONS) -> object:
    """The component ``name`` of one kind, built with its options block (canonical JSON text). Loads the
    installed plugin that provides it on first use; raises KeyError for an unknown name, :class:`OptionsError`
    for options it refuses and :class:`PluginError` for a plugin that breaks the contract."""
    return _component(kind, name, options, _pm, _generation)


def segmenter(config):
    return component("segmenter", config.segmenter, config.options(config.segmenter))


def similarity(config):
    return component("similarity", config.similarity, config.options(config.similarity))


def reward_term(name: str, config):
    return component("reward_term", name, config.options(name))


def observers() -> pluggy.HookCaller | None:
    """The ``moss_scored`` hook when a registered plugin implements it (most runs have none to call)."""
    hook = _pm.hook.moss_scored
    return hook if hook.get_hookimpls() else None


def register(plugin: object, name: str | None = None) -> str:
    """Adds a plugin defined by the running program (a script, a notebook), checked by pluggy like an installed
    one; it replaces an earlier plugin of that name. Safe while other threads score: each lookup sees the
    plugins before or after it. Returns the plugin's name."""
    global _generation
    with _LOCK:
        pm = _pm
        name = name or pm.get_canonical_name(plugin)
        if pm.has_plugin(name):
            pm.unregister(name=name)
        try:
            pm.register(plugin, name)
            _check_hooks(pm, plugin)
        except pluggy.PluginValidationError as e:
            raise _refused(pm, e, f"plugin {name!r}") from None
        _generation += 1
    return name
