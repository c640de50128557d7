"""Reward components as training-step metrics: verl 0.9 logs ``reward_extra_info`` only in validation.

:func:`reward_metrics` is plain Python (tested on its own); :class:`MossSyncTrainer` is verl's synchronous v1
trainer (``PPOTrainerSync``) that adds them to every ``step:N`` line by overriding its private
``_compute_metrics``. So this module is imported only when a run selects the trainer mode ``moss_sync`` (both
recipes set ``trainer.v1.trainer_mode: moss_sync``; :mod:`moss_plugins.verl.plugin` registers the mode without
importing it), and the trainer checks verl's version before anything else. verl keys its sync behaviour
(replay buffer, refills, resume) on the mode name ``sync``, so the trainer runs under that name once chosen: it
is verl's sync trainer plus metrics, nothing else.

Metrics (``reward/`` prefix, over the step's rollouts, padding samples excluded): the mean of every numeric
component (``reward/acc/mean``, ``format``, ``process``, ``padding``, ``score``, ``truncated``, DTW distances...)
and the share of GRPO groups whose rollouts are all correct (``reward/groups/all_correct``) or all wrong
(``reward/groups/all_wrong``): such groups have zero advantage and teach nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import transfer_queue as tq
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from .supported import require_supported_verl

PREFIX = "reward"
INSTEAD = "set trainer.v1.trainer_mode=sync (verl's trainer, without the reward/ step metrics)"


def _number(value):
    if isinstance(value, (int, float)):  # bools too
        return float(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return _number(value.item())
    return None


def reward_metrics(infos: Sequence[Mapping], groups: Sequence) -> dict[str, float]:
    """Mean of each numeric ``reward_extra_info`` key, and the all-correct / all-wrong group shares by ``acc``.

    ``infos[k]`` is the reward manager's extra info for rollout ``k`` and ``groups[k]`` its prompt (uid).
    """
    values: dict[str, list[float]] = defaultdict(list)
    by_group: dict = defaultdict(list)
    for info, group in zip(infos, groups, strict=True):
        for key, value in (info or {}).items():
            number = _number(value)
            if number is not None:
                values[key].append(number)
        acc = _number((info or {}).get("acc"))
        if acc is not None:
            by_group[group].append(acc)
    metrics = {f"{PREFIX}/{key}/mean": sum(v) / len(v) for key, v in sorted(values.items())}
    if by_group:
        n = len(by_group)
        metrics[f"{PREFIX}/groups/all_correct"] = (
            sum(all(a >= 1.0 for a in accs) for accs in by_group.values()) / n
        )
        metrics[f"{PREFIX}/groups/all_wrong"] = (
            sum(all(a <= 0.0 for a in accs) for accs in by_group.values()) / n
        )
    return metrics


def _values(column) -> list:
    """A TransferQueue non-tensor column as plain Python values (items may come wrapped in ``.data``)."""
    return [getattr(item, "data", item) for item in list(column)]


class MossSyncTrainer(PPOTrainerSync):
    """verl's sync trainer; each step's metrics also hold the reward components (:func:`reward_metrics`)."""

    def __init__(self, config):
        require_supported_verl("the trainer mode moss_sync (overrides _compute_metrics)", INSTEAD)
        config.trainer.v1.trainer_mode = "sync"  # see the module docstring
        super().__init__(config)

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        keys = [
            key for key, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding", False)
        ]
        if not keys:
            return
        data = tq.kv_batch_get(
            keys=keys, partition_id=batch.partition_id, select_fields=["uid", "extra_fields"]
        )
        extra = _values(data["extra_fields"])
        infos = [e.get("reward_extra_info", {}) if isinstance(e, dict) else {} for e in extra]
        metrics.update(reward_metrics(infos, _values(data["uid"])))
