"""Target of the ``verl.plugins`` entry point: ``import verl`` imports this module, which registers the reward
manager ``moss_dtw``, the agent loop ``moss_single_turn`` and the trainer mode ``moss_sync`` in verl's registries,
and, only when ``VERL_PLATFORM=cpu`` is set, the CPU backend (:mod:`moss_plugins.verl.cpu_backend`).

``moss_sync``'s trainer overrides a private verl method, so it is not imported here: verl's trainer registry
gets a stand-in that imports :mod:`moss_plugins.verl.train_metrics` (and checks verl's version) only when a run
selects the mode and verl builds its trainer.

verl imports entry points inside ``try/except Exception`` and logs failures at DEBUG only, so a broken install
would surface much later as "Unknown reward manager: moss_dtw" in a Ray worker. This module reports the failure
itself, at ERROR level with the traceback and what to do, then re-raises (verl carries on without the plugin).
"""

from __future__ import annotations

import logging

from . import cpu_backend
from .supported import UnsupportedVerl

log = logging.getLogger("moss_plugins.verl")

TRAINER_MODE = "moss_sync"


def _register_trainer_mode() -> None:
    from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY, PPOTrainer, register_trainer

    if TRAINER_MODE in TRAINER_REGISTRY:  # verl refuses a second class under the same name
        return

    @register_trainer(TRAINER_MODE)
    class MossSyncStandIn(PPOTrainer):
        """What verl's ``get_trainer_cls("moss_sync")`` returns: building it builds
        :class:`~moss_plugins.verl.train_metrics.MossSyncTrainer` instead (a registry entry must be a class)."""

        def __new__(cls, config):
            from .train_metrics import MossSyncTrainer

            return MossSyncTrainer(config)


def _register() -> None:
    try:
        cpu = cpu_backend.is_requested()
        if cpu:  # first: verl's engine modules ask for the platform when they are imported
            cpu_backend.register_platform()
        # Their @register decorators add moss_dtw and moss_single_turn to verl's registries.
        from . import agent_loop, reward_manager  # noqa: F401

        _register_trainer_mode()

        if cpu:
            from . import cpu_rollout

            cpu_backend.activate()
            cpu_rollout.register()
    except UnsupportedVerl as e:  # one line: the CPU backend refuses an unknown verl
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
