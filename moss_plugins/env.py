"""What moss-plugins reads from environment variables: numbers, checked where they are read (a bad value fails
at once, naming the variable, instead of as a confusing error later), and the cache folder."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CACHE_ENV = "MOSS_PLUGINS_CACHE"


def env_number(
    name: str,
    default: float,
    error: type[Exception],
    kind: type = float,
    least: float = 0.0,
    env: Mapping[str, str] | None = None,
):
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


class CacheError(OSError):
    """The cache folder cannot be created or written; the message names the variable that chooses it."""


def cache_folder(*parts: str) -> Path:
    """``cache_root() / parts``, created if need be; :class:`CacheError` naming ``$MOSS_PLUGINS_CACHE`` when it
    cannot be (a read-only or full file system, a file in the way)."""
    folder = cache_root().joinpath(*parts)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CacheError(
            f"cannot create the cache folder {folder} ({e.strerror or e}); set {CACHE_ENV} to a "
            "writable folder"
        ) from None
    return folder


def jit_cache_dir(package: Path) -> Path | None:
    """Where numba should keep the compiled kernels of ``package`` (a folder of modules): None (numba's own choice,
    beside the sources) when ``$NUMBA_CACHE_DIR`` is set or the folder is writable, else ``<cache>/numba``, so a
    read-only install never has numba look for room in it or elsewhere."""
    if os.environ.get("NUMBA_CACHE_DIR") or os.access(package, os.W_OK):
        return None
    return cache_root() / "numba"


def cache_root() -> Path:
    """``$MOSS_PLUGINS_CACHE``, else ``$XDG_CACHE_HOME/moss-plugins``, else ``~/.cache/moss-plugins``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "moss-plugins"
