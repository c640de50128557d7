"""Where numba keeps the reward's compiled kernels (``@njit(cache=True)``): beside the sources when that folder
is writable (a checkout, a user's own environment), else in the user's cache folder
(:func:`~moss_plugins.env.jit_cache_dir`), never by writing into a read-only or shared install. Imported first by
the package, before any kernel is defined: numba picks a kernel's cache folder when it is decorated.

numba checks a cached kernel against its own source file only, so the kernels of rouge.py, facts.py and
penalties.py would keep calling the old code of ``kernels.py`` after an edit there. In a checkout, every index
older than ``kernels.py`` is dropped at import, and those kernels compile again once. (An install writes every
file anew, so its caches never outlive a change.)"""

from __future__ import annotations

from pathlib import Path

from ..env import jit_cache_dir

HERE = Path(__file__).parent
FOLDER = jit_cache_dir(HERE)
if FOLDER is not None:
    from numba import config

    config.CACHE_DIR = str(FOLDER)
else:
    try:
        changed = (HERE / "kernels.py").stat().st_mtime
        for index in (HERE / "__pycache__").glob("*.nbi"):
            if index.stat().st_mtime < changed:
                index.unlink(missing_ok=True)
    except OSError:  # no cache yet, or another process dropped it first
        pass
