"""Target of the ``verl.plugins`` entry point: ``import verl`` imports this module, which registers the reward
manager ``moss_dtw``, the agent loop ``moss_single_turn`` and the trainer mode ``moss_sync`` in verl's registries,
and, only when ``VERL_PLATFORM=cpu`` is set, the CPU backend (:mod:`moss_plugins.verl.cpu_backend`).

verl imports entry points inside ``try/except Exception`` and logs failures at DEBUG only, so a broken install
would surface much later as "Unknown reward manager: moss_dtw" in a Ray worker. This module reports the failure
itself, at ERROR level with the traceback and what to do, then re-raises (verl carries on without the plugin).
"""

from __future__ import annotations

import logging

from . import cpu_backend

log = logging.getLogger("moss_plugins.verl")


def _register() -> None:
    try:
        cpu = cpu_backend.is_requested()
        if cpu:  # first: verl's engine modules ask for the platform when they are imported
            cpu_backend.register_platform()
        # Their @register decorators add moss_dtw, moss_single_turn and moss_sync to verl's registries.
        from . import agent_loop, reward_manager, train_metrics  # noqa: F401

        if cpu:
            from . import cpu_rollout

            cpu_backend.activate()
            cpu_rollout.register()
    except cpu_backend.UnsupportedVerl as e:  # one line: the CPU backend refuses an unknown verl
        log.error("%s", e)
        raise
    except Exception:
        log.exception(
            "moss-plugins: registering the verl plugins failed, so reward=moss_dtw will fail with 'Unknown "
            "reward manager' (and trainer.v1.trainer_mode=moss_sync with 'Unknown trainer'). Check that "
            "moss-plugins[verl] is installed in this environment (pip install 'moss-plugins[verl]') and that "
            '`python -c "import moss_plugins.verl.plugin"` works.'
        )
        raise


_register()
