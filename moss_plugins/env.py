"""What moss-plugins reads from environment variables: numbers, checked where they are read (a bad value fails
at once, naming the variable, instead of as a confusing error later), and the cache folder."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CACHE_ENV = "MOSS_PLUGINS_CACHE"


def env_number(name: str, default: float, error: type[Exception], kind: type = float, least: float = 0.0,
               env: Mapping[str, str] | None = None):  # fmt: skip
    """``$name`` as ``kind`` (int or float), finite and at least ``least``; ``default`` when unset or blank;
    ``error`` (the caller's configuration error) naming the variable and the rule otherwise."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < least:
        what = "an integer" if kind is int else "a number"
        raise error(f"{name}={raw!r}: must be {what} >= {least:g} (unset: {default:g})")
    return value


def cache_root() -> Path:
    """``$MOSS_PLUGINS_CACHE``, else ``$XDG_CACHE_HOME/moss-plugins``, else ``~/.cache/moss-plugins``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "moss-plugins"
