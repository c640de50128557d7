"""Checked options: the one way a configuration is validated (the reward's options, ``data.moss_video``, the
build, synthesis and rewrite options, the reward manager's own).

A rule takes an option's value and returns it in its canonical form (2 -> 2.0, a list -> a tuple), or raises
TypeError or ValueError saying what it must be. :func:`check` applies a table of rules to a frozen dataclass and
raises the caller's own error type in one line, ``<where><name>=<value>: must be ...``; :func:`refuse` is that
line for a rule across options, :func:`known` the line for unknown ones. ``where`` says where the option was
written (``"reward option "``, ``"data.moss_video."``); ``"--"`` names command-line flags (``_`` becomes ``-``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import fields
from typing import Any

Rule = Callable[
    [Any], Any
]  # value -> its canonical form; TypeError/ValueError("must be ...") if it is not valid


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(low: float, high: float | None = None, high_open: bool = False, low_open: bool = False) -> Rule:
    """A finite int or float in [low, high] (either end open on request; no upper end without ``high``), as a
    float."""
    if high is None:
        span = f"{'>' if low_open else '>='} {low:g}"
    else:
        span = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def rule(value):
        inside = is_number(value) and math.isfinite(value) and (low < value if low_open else low <= value)
        inside = inside and (high is None or (value < high if high_open else value <= high))
        if not inside:
            raise ValueError(f"must be a number {span}")
        return float(value)

    return rule


def integer(low: int, high: int | None = None) -> Rule:
    """An int (not a bool, not 2.0) in [low, high] (no upper end without ``high``)."""
    span = f">= {low}" if high is None else f"in [{low}, {high}]"

    def rule(value):
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value
        if not (ok and (high is None or value <= high)):
            raise ValueError(f"must be an integer {span}")
        return value

    return rule


def one_of(choices: Iterable) -> Rule:
    def rule(value):
        if not isinstance(value, Hashable) or value not in choices:  # a list or a dict is no name
            raise ValueError(f"must be one of {sorted(choices)}")
        return value

    return rule


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _spelt(where: str, name: str) -> str:
    return where + (name.replace("_", "-") if where.endswith("--") else name)


def refuse(where: str, name: str, value: Any, rule: Any, error: type[Exception]) -> Exception:
    """The caller's error for an option that breaks ``rule`` (a text, or the rule's own exception)."""
    detail = rule.args[0] if isinstance(rule, BaseException) and rule.args else rule
    return error(f"{_spelt(where, name)}={value!r:.80}: {detail}")


def check_value(where: str, name: str, value: Any, rule: Rule, error: type[Exception]) -> Any:
    """One option through its rule: its canonical form, or the caller's error naming it."""
    try:
        return rule(value)
    except (TypeError, ValueError, KeyError) as e:
        raise refuse(where, name, value, e, error) from None


def check(instance: Any, rules: Mapping[str, Rule], where: str, error: type[Exception]) -> None:
    """Each field of a (frozen) dataclass that has a rule, in field order, replaced by its canonical form."""
    for f in fields(instance):
        if f.name in rules:
            value = check_value(where, f.name, getattr(instance, f.name), rules[f.name], error)
            object.__setattr__(instance, f.name, value)


def known(cls: type, values: Mapping, error: type[Exception], what: str = "option", where: str = "") -> None:
    """Refuses keys of ``values`` that are no field of ``cls``: ``<where>unknown <what>(s) [...]; valid options:
    [...]``."""
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise error(f"{where}unknown {what}(s) {unknown}; valid options: {sorted(valid)}")
