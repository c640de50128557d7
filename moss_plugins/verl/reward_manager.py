"""``moss_dtw``: verl's reward-loop manager for the MOSS-ChatV reward (accuracy + format + DTW process reward).

verl's reward loop (``RewardLoopWorker`` Ray actors) calls :meth:`MossDTWRewardManager.run_single` once per
rollout; the score lands on the last response token and every component is returned in
``reward_extra_info``: verl logs the numeric ones as validation metrics (``val-core/moss_video/acc/mean@N``,
``val-aux/moss_video/process/...``, majority vote over ``pred``) and writes all of them, strings included, to
the generation dumps (``trainer.validation_data_dir``). Options come from the ``reward.moss_dtw`` block of
``reward/moss_dtw.yaml``; a bad option fails when the manager is built, before the first rollout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from moss_plugins.options import check_value, number
from moss_plugins.reward import ConfigError, RewardConfig, prepare_reference, score_solution, semantic
from moss_plugins.reward.batch import steps_or_none
from moss_plugins.reward.score import load_models

NAME = "moss_dtw"
# The config block (under ``reward``) whose keys reach this manager.
OPTIONS_KEY = f"reward.{NAME}"
# Manager-level options in that block; every other key is a :class:`RewardConfig` field.
MANAGER_OPTIONS = ("truncation_penalty",)
# Keys this manager adds to the reward core's result, in this order (``score`` sets them from this tuple): whether
# the rollout stopped at the length limit, its length in tokens, and the answer letter as "pred", the key verl
# computes majority-vote metrics (maj@N) from.
EXTRA_KEYS = ("truncated", "response_tokens", "pred")
# The reason of a response whose token ids the tokenizer cannot decode (scored as an empty output).
UNDECODABLE = "undecodable_tokens"


@dataclass(frozen=True)
class Options:
    reward: RewardConfig
    # Subtracted from the score of a response cut at the length limit (0 = the cut is only reported).
    truncation_penalty: float = 0.0
    # Response tokens the rollout may generate (actor_rollout_ref.rollout.response_length).
    max_response_tokens: int | None = None


def read_options(config: DictConfig) -> Options:
    """The manager's options from the trainer config; raises :class:`ConfigError` naming the bad key."""
    custom = OmegaConf.select(config, "reward.custom_reward_function.path")
    if custom:
        raise ConfigError(
            f"reward.custom_reward_function.path={custom!r} is set, but reward manager {NAME!r} always scores with "
            f"moss_plugins.reward (options under {OPTIONS_KEY}). Either drop the custom function, or use it with "
            "the naive manager: reward.reward_manager.name=naive reward.custom_reward_function.path=pkg://moss_plugins.reward"
        )
    block = OmegaConf.select(config, OPTIONS_KEY)
    values = OmegaConf.to_container(block, resolve=True) if block is not None else {}
    if not isinstance(values, dict):
        raise ConfigError(f"{OPTIONS_KEY} must be a mapping of reward options, got {values!r}")
    manager = {k: values.pop(k) for k in MANAGER_OPTIONS if k in values}
    try:
        reward = RewardConfig.from_kwargs(**values)
    except ConfigError as e:
        raise ConfigError(f"{OPTIONS_KEY}: {e}") from None
    penalty = check_value(
        f"{OPTIONS_KEY}.",
        "truncation_penalty",
        manager.get("truncation_penalty", 0.0),
        number(0),
        ConfigError,
    )
    limit = OmegaConf.select(config, "actor_rollout_ref.rollout.response_length", default=None)
    if limit is None:
        limit = OmegaConf.select(config, "data.max_response_length", default=None)
    return Options(reward, penalty, int(limit) if limit is not None else None)


@register(NAME)
class MossDTWRewardManager(RewardManagerBase):
    """Decodes each rollout, scores it against its reference trace and reports every reward component.

    Model output never raises (whatever it is, it gets a score and a ``reason``); a missing or malformed
    ground truth does, because it is a data bug.
    """

    def __init__(
        self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None
    ):
        # verl passes its math/code dispatcher as ``compute_score`` when no custom function is set; this manager
        # scores with moss_plugins.reward instead (read_options rejects a custom function).
        super().__init__(config, tokenizer, compute_score)
        self.options = read_options(config)
        self.eos_token_ids = _eos_ids(tokenizer)
        self._to_embed: list[str] = []  # step texts of the rollouts waiting for one batched encode
        self._embedded: asyncio.Future | None = None
        load_models(self.options.reward)  # a missing embedding model fails here, at start-up

    async def run_single(self, data: DataProto) -> dict:
        item = data[-1]  # a multi-output agent loop is scored on its last sequence, as verl's managers do
        response_ids = item.batch["responses"]
        n_valid = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        valid_ids = response_ids[:n_valid].tolist()
        truth = _ground_truth(item.non_tensor_batch)
        extra_info = item.non_tensor_batch.get("extra_info")
        # The running loop, not self.loop: a worker may await this from a loop other than the one it was built on.
        loop = asyncio.get_running_loop()
        if self.options.reward.semantic_weight:
            await self._embed(loop, valid_ids, truth)
        result = await loop.run_in_executor(None, self.score, valid_ids, truth, extra_info)
        return {"reward_score": result["score"], "reward_extra_info": result}

    async def _embed(self, loop, response_ids: list[int], ground_truth: Any) -> None:
        """Queue this rollout's step texts (and its reference's) for one batched encode of every rollout that
        verl started in the same tick (its reward loop starts a worker's whole chunk at once), then wait for it."""
        reference = prepare_reference(ground_truth, self.options.reward)
        text = self.decode(response_ids) or ""
        self._to_embed += reference.truth.step_texts + steps_or_none(text, reference, self.options.reward)
        if self._embedded is None:
            self._embedded = loop.create_task(self._encode_pending(loop))
        await asyncio.shield(self._embedded)

    async def _encode_pending(self, loop) -> None:
        await asyncio.sleep(0)  # let every rollout started in this tick add its steps
        texts, self._to_embed, self._embedded = self._to_embed, [], None
        await loop.run_in_executor(None, semantic.prefetch, self.options.reward.embedding_model, texts)

    def score(self, response_ids: list[int], ground_truth: Any, extra_info: Any = None) -> dict:
        """Score one response given as token ids (synchronous; ``run_single`` runs it in an executor)."""
        options = self.options
        text = self.decode(response_ids)
        reference = prepare_reference(
            ground_truth, options.reward
        )  # once per group, also across executor threads
        extra = extra_info if isinstance(extra_info, dict) else None
        result = score_solution(text or "", reference, options.reward, extra)
        if text is None:  # scored as the empty output it decodes to, and said why
            result["reason"] = UNDECODABLE
        truncated = self.is_truncated(response_ids)
        if truncated:
            result["score"] -= options.truncation_penalty
            result["reason"] = "truncated" if result["reason"] == "ok" else f"{result['reason']},truncated"
        result.update(
            zip(EXTRA_KEYS, (float(truncated), len(response_ids), result["pred_answer"]), strict=True)
        )
        return result

    def decode(self, response_ids: list[int]) -> str | None:
        """The response's text; None when its ids are no token's (negative, or past what the tokenizer's integers
        hold: its OverflowError), which is model output, so scored rather than raised."""
        try:
            return self.tokenizer.decode(response_ids, skip_special_tokens=True)
        except (OverflowError, ValueError, TypeError):
            return None

    def is_truncated(self, response_ids: list[int]) -> bool:
        """The rollout stopped at the length limit rather than at an end-of-sequence token."""
        limit = self.options.max_response_tokens
        if not response_ids or limit is None or len(response_ids) < limit:
            return False
        return response_ids[-1] not in self.eos_token_ids


def _eos_ids(tokenizer) -> frozenset[int]:
    ids = getattr(tokenizer, "eos_token_id", None)
    ids = ids if isinstance(ids, (list, tuple)) else [ids]
    return frozenset(i for i in ids if i is not None)


def _ground_truth(row: dict) -> Any:
    reward_model = row.get("reward_model")
    truth = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
    if truth is None:
        raise ValueError(
            f"a rollout reached reward manager {NAME!r} without reward_model.ground_truth (row fields: "
            f"{sorted(row)}). Rows need reward_model={{'style': 'rule', 'ground_truth': {{answer, options, trace}}}}, "
            "as written by `moss data export --format verl`."
        )
    return truth
