"""Target of the ``verl.plugins`` entry point: ``import verl`` imports this module, which registers ``moss_dtw``.

verl imports entry points inside ``try/except Exception`` and logs failures at DEBUG only, so a broken install
would surface much later as "Unknown reward manager: moss_dtw" in a Ray worker. This module reports the failure
itself, at ERROR level with the traceback and what to do, then re-raises (verl carries on without the plugin).
"""

from __future__ import annotations

import logging

log = logging.getLogger("moss_plugins.verl")


def _register() -> None:
    try:
        from . import reward_manager  # noqa: F401  (its @register decorator adds moss_dtw to verl's registry)
    except Exception:
        log.exception(
            "moss-plugins: registering the verl reward manager 'moss_dtw' failed, so reward=moss_dtw will fail "
            "with 'Unknown reward manager'. Check that moss-plugins[verl] is installed in this environment "
            "(pip install 'moss-plugins[verl]') and that `python -c \"import moss_plugins.verl.reward_manager\"` "
            "works."
        )
        raise


_register()
