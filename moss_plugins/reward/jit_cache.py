"""Where numba keeps the reward's compiled kernels (``@njit(cache=True)``): beside the sources when that folder
is writable (a checkout, a user's own environment), else in the user's cache folder
(:func:`~moss_plugins.env.jit_cache_dir`), never by writing into a read-only or shared install. Imported first by
the package, before any kernel is defined: numba picks a kernel's cache folder when it is decorated."""

from __future__ import annotations

from pathlib import Path

from ..env import jit_cache_dir

FOLDER = jit_cache_dir(Path(__file__).parent)
if FOLDER is not None:
    from numba import config

    config.CACHE_DIR = str(FOLDER)
