"""``moss_single_turn``: verl's single-turn agent loop, with the rollout barred from vision placeholder tokens.

A policy that emits ``<|image_pad|>``, ``<|vision_start|>``, ``<|video_pad|>``... in its answer breaks verl's
agent loop before the reward sees it: the position ids of Qwen2.5-VL (transformers' ``get_rope_index``) expect
every placeholder to stand for pixels, raise ``StopIteration``, and the whole GRPO group is replaced by padding
samples. A random or early policy does this often. This loop adds vLLM's ``logit_bias`` sampling option with
:data:`BAN` for each placeholder token the tokenizer has, so those tokens are never sampled: a bad sample costs
one low reward, not a group. verl's vLLM server passes the option to ``SamplingParams(logit_bias=...)``; the CPU
rollout (:mod:`moss_plugins.verl.cpu_rollout`) honours it as well.
Selected with ``actor_rollout_ref.rollout.agent.default_agent_loop=moss_single_turn`` (both recipes).
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

NAME = "moss_single_turn"
# Tokens that stand for pixels: only the processor may put them in a sequence. Qwen2-VL/2.5-VL/3-VL spellings,
# and the <image>/<video> placeholders of LLaVA-style models (TinyLLaVA-Video).
PLACEHOLDERS = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image>",
    "<video>",
)
# vLLM clamps logit_bias to [-100, 100] in its OpenAI server; -100 makes a token's probability ~e^-100.
BAN = -100.0


def banned_token_ids(tokenizer) -> list[int]:
    """The ids of :data:`PLACEHOLDERS` that are single tokens of ``tokenizer`` (none for a text-only Phi-2)."""
    vocab = tokenizer.get_vocab()
    return sorted({vocab[token] for token in PLACEHOLDERS if token in vocab})


def guarded(sampling_params: dict[str, Any], banned: list[int]) -> dict[str, Any]:
    """``sampling_params`` with ``logit_bias`` banning ``banned`` (an existing bias is kept, and overridden only
    for the banned ids)."""
    if not banned:
        return sampling_params
    bias = dict(sampling_params.get("logit_bias") or {})
    bias.update({token: BAN for token in banned})
    return {**sampling_params, "logit_bias": bias}


@register(NAME)
class MossSingleTurnAgentLoop(SingleTurnAgentLoop):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.banned = banned_token_ids(self.tokenizer)

    async def run(self, sampling_params: dict[str, Any], **kwargs):
        return await super().run(guarded(sampling_params, self.banned), **kwargs)
