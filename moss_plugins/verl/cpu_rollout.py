"""``hf_generate``: a rollout for verl's CPU backend, transformers' ``generate()`` behind verl's rollout interfaces.

verl's agent loop asks a rollout *server* (a Ray actor) for token-in/token-out generations and its trainer pushes
the actor's weights to the rollout after every step. This module provides the three pieces verl's registries
expect, as vLLM does on a GPU:

- :class:`HFGenerateServer`, the Ray actor: ``generate()`` returns verl's ``TokenOutput`` with per-token
  log-probs; it honours ``temperature``/``top_p``/``top_k`` and vLLM's ``logit_bias`` (the recipes use it to ban
  vision placeholder tokens, :mod:`moss_plugins.verl.agent_loop`); ``load_weights()`` takes the actor's tensors;
- :class:`HFGenerateReplica` (``RolloutReplicaRegistry``): starts one server per replica;
- :class:`HFServerAdapter` (verl's rollout registry): lives in the actor worker and sends it the weights.

With ``MOSS_CPU_ROLLOUT_LOG=FILE`` the server appends one JSON line per weight load and per generation, with the
SHA-256 of the weights it holds at that moment: tests use it to see that the rollout generated with the weights
of the step before, not with the initial ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import time
from typing import Any

import ray
import torch

from .cpu_backend import ROLLOUT

log = logging.getLogger("moss_plugins.verl.cpu_rollout")

LOG_ENV = "MOSS_CPU_ROLLOUT_LOG"
MAX_BATCH = 64  # rollouts per generate() call


def server_name(replica_rank: int, node_rank: int = 0) -> str:
    return f"{ROLLOUT}_server_{replica_rank}_{node_rank}"


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter of ``model`` (name, then bytes in float32), in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def to_module_keys(names, model: torch.nn.Module) -> dict[str, str]:
    """verl sends weights under checkpoint names (``convert_weight_keys``); map them back to ``model``'s own keys
    with the model's ``_checkpoint_conversion_mapping`` (checkpoint pattern -> module key), when it has one."""
    mapping = getattr(model, "_checkpoint_conversion_mapping", None) or {}
    out = {}
    for name in names:
        key = name
        for pattern, replacement in mapping.items():
            key, n = re.subn(pattern, replacement, key)
            if n:
                break
        out[name] = key
    return out


def sampling_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """vLLM-style sampling parameters (as verl's agent loop sends them) as ``generate()`` keyword arguments."""
    temperature = float(params.get("temperature", 1.0) or 0.0)
    kwargs: dict[str, Any] = {"do_sample": temperature > 0}
    if temperature > 0:
        top_k = int(params.get("top_k", -1) or -1)
        kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)), top_k=max(0, top_k))
    repetition = float(params.get("repetition_penalty", 1.0) or 1.0)
    if repetition != 1.0:
        kwargs["repetition_penalty"] = repetition
    bias = params.get("logit_bias") or {}
    if bias:
        kwargs["sequence_bias"] = {(int(token),): float(value) for token, value in bias.items()}
    return kwargs


class HFGenerateServer:
    """One rollout server: a transformers model in its own Ray process, weights from the actor."""

    def __init__(self, config, model_config, replica_rank: int = 0, node_rank: int = 0):
        from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
        from verl.utils.config import omega_conf_to_dataclass
        from verl.workers.config import HFModelConfig

        model_config = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.config, self.model_config = config, model_config
        self.replica_rank, self.node_rank = replica_rank, node_rank
        self.tokenizer = model_config.tokenizer
        self.processor = model_config.processor
        loader = AutoModelForImageTextToText if self.processor is not None else AutoModelForCausalLM
        self.model = loader.from_pretrained(
            model_config.local_path, dtype=torch.float32, attn_implementation="sdpa"
        ).eval()
        self.global_steps = None
        self.lock = asyncio.Lock()
        self.waiting: list[_Request] = []
        self.log_path = os.environ.get(LOG_ENV)
        self.weights = weights_sha256(self.model)
        self._record(event="init", weights=self.weights)

    def _record(self, **fields) -> None:
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps({"time": time.time(), "global_steps": self.global_steps, **fields}) + "\n")

    def load_weights(self, tensors: dict[str, torch.Tensor], global_steps: int | None = None) -> str:
        """Replace every parameter with the actor's; a name that matches nothing is an error, not a skip."""
        keys = to_module_keys(tensors, self.model)
        state = self.model.state_dict()
        unknown = sorted(name for name, key in keys.items() if key not in state)
        if unknown:
            raise KeyError(
                f"{ROLLOUT}: the actor sent weights the rollout model does not have: {unknown[:5]}"
            )
        tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
        missing = sorted(set(state) - set(keys.values()) - tied)
        if missing:
            raise KeyError(f"{ROLLOUT}: the actor sent no weights for {missing[:5]}")
        with torch.no_grad():
            for name, tensor in tensors.items():
                target = state[keys[name]]
                target.copy_(tensor.to(dtype=target.dtype).reshape(target.shape))
        if global_steps is not None:
            self.global_steps = global_steps
        self.weights = weights_sha256(self.model)
        self._record(event="load", weights=self.weights, tensors=len(tensors))
        return self.weights

    def _inputs(self, prompt_ids: list[int], image_data, video_data, mm_processor_kwargs) -> dict:
        """Model inputs for a prompt the agent loop already tokenised (vision pads expanded): the pixel features
        come from the processor, as verl's agent loop computes them for the actor."""
        inputs = {"input_ids": torch.tensor([prompt_ids], dtype=torch.long)}
        if self.processor is not None and (image_data is not None or video_data is not None):
            from verl.utils.tokenizer import build_multimodal_processor_inputs

            text = self.tokenizer.decode(
                _collapse_pads(prompt_ids, self.model.config), skip_special_tokens=False
            )
            features = build_multimodal_processor_inputs(
                self.processor,
                text=[text],
                images=image_data,
                videos=video_data,
                **({"mm_processor_kwargs": mm_processor_kwargs} if mm_processor_kwargs else {}),
            )
            inputs.update({k: v for k, v in features.items() if k not in ("input_ids", "attention_mask")})
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        return inputs

    def _max_tokens(self, n_prompt: int, params: dict) -> int:
        config = self.config
        limit = params.pop("max_tokens", None) or params.pop("max_new_tokens", None)
        if limit is None:
            limit = min(config.response_length, config.prompt_length + config.response_length - n_prompt)
        if config.max_model_len:
            limit = min(limit, config.max_model_len - n_prompt)
        return max(1, int(limit))

    def _generate(self, batch: list[_Request]) -> list:
        """One ``generate()`` for the whole batch (left-padded): on a CPU a small model's time goes to the
        per-token overhead, which a batch shares, so 64 rollouts cost little more than one."""
        from verl.workers.rollout.replica import TokenOutput

        first = batch[0]
        params = _sampling(first.params)
        limits = [self._max_tokens(len(r.prompt_ids), dict(r.params)) for r in batch]
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        if len(batch) == 1:
            inputs = self._inputs(
                first.prompt_ids, first.image_data, first.video_data, first.mm_processor_kwargs
            )
        else:  # text only (see _compatible)
            width = max(len(r.prompt_ids) for r in batch)
            inputs = {
                "input_ids": torch.tensor(
                    [[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in batch]
                ),
                "attention_mask": torch.tensor(
                    [[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in batch]
                ),
            }
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                max_new_tokens=max(limits),
                eos_token_id=eos,
                pad_token_id=pad,
                output_scores=True,
                return_dict_in_generate=True,
                **sampling_kwargs(params),
            )
        start = inputs["input_ids"].shape[1]
        generated = out.sequences[:, start:]
        chosen = None
        if params.get("logprobs"):  # verl asks with calculate_log_probs (a bool): one softmax per step
            chosen = torch.cat(
                [
                    torch.log_softmax(score.float(), dim=-1).gather(1, generated[:, k : k + 1])
                    for k, score in enumerate(out.scores)
                ],
                dim=1,
            )
        outputs = []
        for row, limit in enumerate(limits):
            tokens = generated[row, :limit].tolist()
            if eos in tokens:  # a finished row is padded with pad (= eos for Phi) up to the longest
                tokens = tokens[: tokens.index(eos) + 1]
            outputs.append(
                TokenOutput(
                    token_ids=tokens,
                    log_probs=None if chosen is None else chosen[row, : len(tokens)].tolist(),
                    stop_reason="completed",
                    extra_fields={"global_steps": self.global_steps},
                )
            )
        return outputs

    def _take_batch(self) -> list[_Request]:
        """The oldest waiting request and every waiting one that can share its ``generate()`` call."""
        first = self.waiting.pop(0)
        batch, keep = [first], []
        for request in self.waiting:
            fits = len(batch) < MAX_BATCH and _compatible(first, request)
            (batch if fits else keep).append(request)
        self.waiting = keep
        return batch

    async def generate(
        self,
        prompt_ids,
        sampling_params,
        request_id,
        image_data=None,
        video_data=None,
        audio_data=None,
        mm_processor_kwargs=None,
        priority=0,
        **kwargs,
    ):
        request = _Request(
            list(prompt_ids),
            dict(sampling_params),
            image_data,
            video_data,
            mm_processor_kwargs,
            asyncio.get_running_loop().create_future(),
        )
        self.waiting.append(request)
        # One generate() at a time (the CPU cores are shared); the requests that arrive meanwhile wait and go
        # together in the next one, as verl's agent loop sends a step's rollouts all at once.
        async with self.lock:
            await asyncio.sleep(0)  # let the requests already sent join this call
            if not request.done.done():
                batch = self._take_batch()
                try:
                    outputs = await asyncio.to_thread(self._generate, batch)
                except Exception as error:  # noqa: BLE001 (every waiting caller gets it)
                    for waiting in batch:
                        waiting.done.set_exception(error)
                else:
                    for waiting, output in zip(batch, outputs):
                        waiting.done.set_result(output)
                        self._record(event="generate", weights=self.weights, tokens=len(output.token_ids))
        return await request.done

    async def set_global_steps(self, global_steps: int):
        self.global_steps = global_steps

    # verl's replica and checkpoint manager call these; a CPU model holds no device memory to free.
    async def _noop(self, *args, **kwargs):
        return None

    wake_up = sleep = clear_kv_cache = release_kv_cache = resume_kv_cache = _noop
    resume_generation = start_profile = stop_profile = wait_for_requests_to_drain = _noop

    async def abort_all_requests(self, *args, **kwargs) -> dict:
        return {"aborted_count": 0, "request_ids": []}

    async def abort_request(self, request_id: str, *args, **kwargs) -> dict:
        return {"aborted": False, "request_id": request_id}


@dataclasses.dataclass
class _Request:
    prompt_ids: list[int]
    params: dict
    image_data: Any
    video_data: Any
    mm_processor_kwargs: Any
    done: asyncio.Future


def _compatible(a: _Request, b: _Request) -> bool:
    """Two text-only requests with the same sampling (a vision request goes alone: its pixels do not pad)."""
    text_only = all(r.image_data is None and r.video_data is None for r in (a, b))
    return text_only and _sampling(a.params) == _sampling(b.params)


def _sampling(params: dict) -> dict:
    """A request's sampling parameters without its length limit (each row keeps its own, see ``_max_tokens``)."""
    return {k: v for k, v in params.items() if k not in ("max_tokens", "max_new_tokens")}


def _collapse_pads(ids: list[int], config) -> list[int]:
    """Runs of an image/video pad token collapsed to one, so the processor can expand them again."""
    pads = {getattr(config, "image_token_id", None), getattr(config, "video_token_id", None)} - {None}
    out = []
    for token in ids:
        if not (token in pads and out and out[-1] == token):
            out.append(token)
    return out


@functools.cache
def _replica_class():
    from verl.workers.rollout.replica import RolloutReplica

    class HFGenerateReplica(RolloutReplica):
        """One :class:`HFGenerateServer` per replica, on the node of its first actor worker."""

        async def launch_servers(self):
            node_id = await self.workers[0].__ray_call__.remote(
                lambda _: ray.get_runtime_context().get_node_id()
            )
            name = server_name(self.replica_rank)
            strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node_id=node_id, soft=False
            )
            server = (
                ray.remote(HFGenerateServer)
                .options(
                    name=name, num_cpus=0, scheduling_strategy=strategy, max_concurrency=self.max_concurrency
                )
                .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
            )
            await server.set_global_steps.remote(None)  # waits until the model is loaded
            self.servers = [server]
            self._server_handle = server
            self._server_address = name

    return HFGenerateReplica


@functools.cache
def _adapter_class():
    from verl.workers.rollout.base import BaseRollout
    from verl.workers.rollout.utils import ensure_async_iterator

    class HFServerAdapter(BaseRollout):
        """In the actor worker: forwards the actor's weights to this rank's rollout server."""

        def __init__(self, config, model_config, device_mesh, replica_rank: int = -1):
            super().__init__(config, model_config, device_mesh)
            rank = int(os.environ["RANK"])
            world = self.config.tensor_model_parallel_size * self.config.data_parallel_size
            self.replica_rank = rank // world if replica_rank == -1 else replica_rank
            self.has_server = rank % world == 0
            self.server = None

        async def resume(self, tags: list[str]):
            return None

        async def release(self):
            return None

        async def update_weights(
            self,
            weights,
            global_steps: int | None = None,
            wire_format: str = "named_tensors",
            peft_config=None,
            **kwargs,
        ):
            if wire_format != "named_tensors":
                raise NotImplementedError(f"{ROLLOUT} rollout takes named tensors, not {wire_format!r}")
            if peft_config is not None:
                raise NotImplementedError(
                    f"{ROLLOUT} rollout loads merged weights only: set actor_rollout_ref.model.lora.merge=true"
                )
            tensors = {}
            async for name, tensor in ensure_async_iterator(weights):
                tensor = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
                tensors[name] = tensor.detach().to("cpu").clone()
            if not self.has_server:
                return
            if self.server is None:
                self.server = ray.get_actor(server_name(self.replica_rank))
            await self.server.load_weights.remote(tensors, global_steps)

    return HFServerAdapter


def __getattr__(name):
    # verl's rollout registry imports the adapter by dotted path; the classes need verl, built on first use.
    if name == "HFServerAdapter":
        return _adapter_class()
    if name == "HFGenerateReplica":
        return _replica_class()
    raise AttributeError(name)


def register() -> None:
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    base._ROLLOUT_REGISTRY[(ROLLOUT, "async")] = f"{__name__}.HFServerAdapter"
    RolloutReplicaRegistry.register(ROLLOUT, _replica_class)
