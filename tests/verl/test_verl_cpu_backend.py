"""The CPU backend's parts on their own: registrations, the rollout's sampling and weight sync, the vision-token
guard and the training-step reward metrics. Its version guard: test_verl_supported.py; the full runs:
test_verl_smoke.py."""

import json
import os
import subprocess
import sys

import pytest
import torch

from moss_plugins.verl.agent_loop import BAN, PLACEHOLDERS, banned_token_ids, guarded
from moss_plugins.verl.cpu_rollout import sampling_kwargs, weights_sha256
from moss_plugins.verl.train_metrics import reward_metrics


@pytest.mark.slow
def test_the_backend_loads_only_with_verl_platform_cpu():
    probe = (
        "import verl, json\n"
        "from verl.plugin.platform import get_platform, PlatformRegistry\n"
        "from verl.workers.engine.base import EngineRegistry\n"
        "from verl.workers.rollout.base import _ROLLOUT_REGISTRY\n"
        "import verl.utils.distributed as d, verl.workers.engine_workers as w\n"
        "import verl.workers.engine.fsdp.transformer_impl as t\n"
        "cpu = PlatformRegistry.get('cpu') is not None\n"
        "print(json.dumps({'cpu_platform': cpu, 'device': get_platform().device_name if cpu else None,\n"
        " 'engine': 'cpu' in EngineRegistry._engines['language_model']['fsdp2'],\n"
        " 'rollout': ('hf_generate', 'async') in _ROLLOUT_REGISTRY,\n"
        " 'backend_patched': getattr(w.initialize_global_process_group_ray, '_moss_cpu', False),\n"
        " 'pin_memory': t.CPUOffloadPolicy().pin_memory}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VERL_PLATFORM"}

    def run(**extra):
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", probe],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert run(VERL_PLATFORM="cpu") == {
        "cpu_platform": True,
        "device": "cpu",
        "engine": True,
        "rollout": True,
        "backend_patched": True,
        "pin_memory": False,
    }
    assert run() == {
        "cpu_platform": False,
        "device": None,
        "engine": False,
        "rollout": False,
        "backend_patched": False,
        "pin_memory": True,
    }


def test_vllm_sampling_params_become_generate_arguments():
    assert sampling_kwargs({"temperature": 0, "top_p": 1.0, "top_k": -1}) == {"do_sample": False}
    kwargs = sampling_kwargs(
        {
            "temperature": 1.0,
            "top_p": 0.9,
            "top_k": -1,
            "repetition_penalty": 1.0,
            "logprobs": True,
            "logit_bias": {7: -100.0, "9": -100},
        }
    )
    assert kwargs == {
        "do_sample": True,
        "temperature": 1.0,
        "top_p": 0.9,
        "top_k": 0,
        "sequence_bias": {(7,): -100.0, (9,): -100.0},
    }


def test_the_guard_bans_every_vision_placeholder_the_tokenizer_has(qwen_tokenizer, phi2_dir):
    from transformers import AutoTokenizer

    banned = banned_token_ids(qwen_tokenizer)
    names = {qwen_tokenizer.convert_ids_to_tokens(i) for i in banned}
    assert names == {t for t in PLACEHOLDERS if t.startswith("<|")}  # Qwen has no <image>/<video> token
    assert banned_token_ids(AutoTokenizer.from_pretrained(phi2_dir)) == []  # text-only: nothing to ban
    params = {"temperature": 1.0, "logit_bias": {5: 2.0}}
    assert guarded(params, banned) == {
        "temperature": 1.0,
        "logit_bias": {5: 2.0, **dict.fromkeys(banned, BAN)},
    }
    assert params == {"temperature": 1.0, "logit_bias": {5: 2.0}}  # the caller's dict is left alone
    assert guarded(params, []) is params


@pytest.mark.parametrize(
    ("response", "error"), [("<|video_pad|>", StopIteration), ("<|image_pad|>", TypeError)]
)
def test_a_placeholder_in_a_response_breaks_qwen_position_ids(qwen_dir, qwen_tokenizer, response, error):
    # Why the guard exists: verl's agent loop computes M-RoPE position ids over prompt + response with the
    # model's get_rope_index, which takes every pad token for pixels of a video/image the prompt has not got.
    from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration(AutoConfig.from_pretrained(qwen_dir)).model
    tok = qwen_tokenizer
    video = [tok.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|video_pad|>", "<|vision_end|>")]
    prompt = (
        tok("<|im_start|>user\n")["input_ids"]
        + video
        + tok("Next?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    )

    def positions(response_ids):
        ids = torch.tensor([prompt + response_ids])
        kinds = torch.zeros_like(ids)
        kinds[ids == tok.convert_tokens_to_ids("<|image_pad|>")] = 1
        kinds[ids == tok.convert_tokens_to_ids("<|video_pad|>")] = 2
        return model.get_rope_index(
            input_ids=ids,
            mm_token_type_ids=kinds,
            attention_mask=torch.ones_like(ids),
            video_grid_thw=torch.tensor([[1, 2, 2]]),
        )  # one video token after merging

    positions(tok("Step 1: red.")["input_ids"])  # a clean response is fine
    with pytest.raises(error):
        positions(tok("Step 1: ")["input_ids"] + [tok.convert_tokens_to_ids(response)])


@pytest.fixture(scope="module")
def rollout_server(tiny_qwen, tmp_path_factory):
    """The rollout server class, built in this process (no Ray), with a tiny Qwen2.5-VL that prefers <|image_pad|>."""
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    from moss_plugins.verl.compose import compose_job
    from moss_plugins.verl.cpu_rollout import HFGenerateServer

    config = compose_job(
        [
            "reward=moss_dtw",
            "data=moss_video",
            "actor_rollout_ref.rollout.name=hf_generate",
            "data.max_prompt_length=64",
            "data.max_response_length=24",
        ]
    )
    log = tmp_path_factory.mktemp("rollout") / "rollout.jsonl"
    os.environ["MOSS_CPU_ROLLOUT_LOG"] = str(log)
    try:
        server = HFGenerateServer(
            omega_conf_to_dataclass(config.actor_rollout_ref.rollout), HFModelConfig(path=str(tiny_qwen))
        )
    finally:
        del os.environ["MOSS_CPU_ROLLOUT_LOG"]
    pad = server.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    boost = torch.zeros(server.model.config.text_config.vocab_size)
    boost[pad] = 30.0  # a policy that would emit the placeholder at every step, as random ones often do
    server.model.lm_head.register_forward_hook(lambda module, args, out: out + boost)
    server.log = log
    return server, pad


def _generate(server, params):
    import asyncio

    prompt = server.tokenizer("<|im_start|>user\nWhat next?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    return asyncio.run(server.generate(prompt, dict(params), request_id="t"))


def test_the_cpu_rollout_honours_the_ban_and_returns_log_probs(rollout_server):
    server, pad = rollout_server
    free = _generate(server, {"temperature": 0, "logprobs": True})
    assert pad in free.token_ids  # the bias above works: unguarded, the placeholder comes out
    banned = _generate(server, guarded({"temperature": 1.0, "logprobs": True}, [pad]))
    assert banned.token_ids and pad not in banned.token_ids
    assert len(banned.log_probs) == len(banned.token_ids) and all(lp <= 0 for lp in banned.log_probs)


def test_the_cpu_rollout_batches_concurrent_requests_and_cuts_each_at_its_end(rollout_server):
    """verl's agent loop sends a step's rollouts at once: they share one left-padded generate() call, and each
    answer is what it would be alone (greedy), cut at its own end of text or length limit."""
    import asyncio

    server, pad = rollout_server
    tok = server.tokenizer
    prompts = [
        tok(f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
        for text in ("What next?", "What comes after the red light, then?", "Count.")
    ]
    params = guarded({"temperature": 0, "logprobs": True}, [pad])
    alone = [asyncio.run(server.generate(p, dict(params), request_id=str(i))) for i, p in enumerate(prompts)]
    calls = []
    original = server._generate
    server._generate = lambda batch: calls.append(len(batch)) or original(batch)
    try:

        async def together():
            return await asyncio.gather(
                *(server.generate(p, dict(params), request_id=str(i)) for i, p in enumerate(prompts))
            )

        batched = asyncio.run(together())
    finally:
        server._generate = original
    assert calls == [3]
    for one, many in zip(alone, batched):
        assert many.token_ids == one.token_ids
        assert many.log_probs == pytest.approx(one.log_probs, abs=1e-4)  # padding changes rounding only
        assert tok.eos_token_id not in many.token_ids[:-1]


def test_weight_sync_replaces_every_parameter_and_is_logged(rollout_server):
    server, _ = rollout_server
    state = {k: v.clone() for k, v in server.model.state_dict().items()}
    before = weights_sha256(server.model)
    state["lm_head.weight"] += 1e-3
    after = server.load_weights(state, global_steps=3)
    assert after != before and after == weights_sha256(server.model)
    with pytest.raises(KeyError, match="does not have"):
        server.load_weights({**state, "nonsense.weight": torch.zeros(1)})
    events = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert events[0]["event"] == "init" and events[0]["weights"] == before
    assert {"event": "load", "global_steps": 3, "weights": after} in [
        {k: e[k] for k in ("event", "global_steps", "weights")} for e in events
    ]


def test_reward_metrics_average_components_and_count_uniform_groups():
    infos = [
        {
            "acc": 1.0,
            "format": 1.0,
            "process": 0.5,
            "padding": 0.0,
            "score": 1.45,
            "reason": "ok",
            "pred": "A",
        },
        {
            "acc": 1.0,
            "format": 0.0,
            "process": 0.1,
            "padding": 0.5,
            "score": 0.8,
            "reason": "format",
            "pred": "B",
        },
        {
            "acc": 0.0,
            "format": 1.0,
            "process": 0.3,
            "padding": 0.0,
            "score": 0.35,
            "reason": "ok",
            "pred": "C",
        },
        {
            "acc": 1.0,
            "format": 1.0,
            "process": 0.9,
            "padding": 0.0,
            "score": 1.65,
            "reason": "ok",
            "pred": "A",
        },
        {
            "acc": 0.0,
            "format": 0.0,
            "process": 0.0,
            "padding": 1.0,
            "score": -0.5,
            "reason": "empty",
            "pred": "",
        },
        {
            "acc": 0.0,
            "format": 1.0,
            "process": 0.2,
            "padding": 0.0,
            "score": 0.3,
            "reason": "ok",
            "pred": "D",
        },
    ]
    groups = ["p1", "p1", "p2", "p2", "p3", "p3"]  # all correct, mixed, all wrong
    metrics = reward_metrics(infos, groups)
    assert metrics["reward/acc/mean"] == pytest.approx(0.5)
    assert metrics["reward/format/mean"] == pytest.approx(4 / 6)
    assert metrics["reward/process/mean"] == pytest.approx(2.0 / 6)
    assert metrics["reward/padding/mean"] == pytest.approx(1.5 / 6)
    assert metrics["reward/score/mean"] == pytest.approx(4.05 / 6)
    assert metrics["reward/groups/all_correct"] == pytest.approx(1 / 3)
    assert metrics["reward/groups/all_wrong"] == pytest.approx(1 / 3)
    assert not any("reason" in k or "pred" in k for k in metrics)  # strings are not averaged
    assert reward_metrics([], []) == {}
