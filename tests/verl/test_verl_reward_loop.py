"""moss_dtw inside verl's reward loop: RewardLoopManager with two RewardLoopWorker Ray actors on a local Ray."""

import asyncio

import pytest
from verl.experimental.reward_loop import RewardLoopManager
from verl.trainer.ppo.reward import extract_reward, load_reward_manager

from moss_plugins.testing.examples import load_examples
from moss_plugins.testing.responses import reference_response, wrong_letter
from moss_plugins.testing.responses import rollout_batch as rollouts

pytestmark = pytest.mark.slow

EXAMPLES = load_examples()


@pytest.fixture(scope="module")
def loop_config(job_config, qwen_dir, override):
    return override(job_config, **{"actor_rollout_ref.model.path": str(qwen_dir), "reward.num_workers": 2})


def _group_batch(tokenizer):
    """Two GRPO groups of 8 rollouts: the reference, wrong answers, unformatted and empty outputs."""
    responses, truths = [], []
    for example in EXAMPLES[:2]:
        truth = example["ground_truth"]
        group = [
            reference_response(truth),
            reference_response(truth, wrong_letter(truth)),
            "no tags at all",
            "",
        ]
        group += [c["output"] for c in example["candidates"][:4]]
        responses += group
        truths += [truth] * len(group)
    return rollouts(tokenizer, responses, truths)


def test_reward_loop_workers_score_with_moss_dtw(ray_local, loop_config, qwen_tokenizer):
    manager = RewardLoopManager(loop_config)
    assert (
        len(manager.reward_loop_workers) == 2
        and manager.reward_manager_cls.__name__ == "MossDTWRewardManager"
    )
    batch = _group_batch(qwen_tokenizer)

    # The batch path (colocated reward): the batch is split over both workers.
    out = manager.compute_rm_score(batch)
    rewards, extra = extract_reward(out)
    local = load_reward_manager(loop_config, qwen_tokenizer)
    expected = [
        local.score(ids[mask.bool()].tolist(), rm["ground_truth"])
        for ids, mask, rm in zip(
            batch.batch["responses"],
            batch.batch["attention_mask"][:, batch.batch["prompts"].shape[1] :],
            batch.non_tensor_batch["reward_model"],
        )
    ]
    valid = batch.batch["attention_mask"][:, batch.batch["prompts"].shape[1] :].sum(dim=1)
    for k, result in enumerate(expected):
        assert rewards[k].sum().item() == pytest.approx(result["score"])
        assert rewards[k, valid[k] - 1].item() == pytest.approx(result["score"])  # on the last response token
        assert extra["reason"][k] == result["reason"] and extra["acc"][k] == result["acc"]
    assert out.meta_info["reward_extra_keys"] == list(expected[0])

    # The streaming path the agent loop uses: one rollout per call, to any worker.
    async def stream():
        return await asyncio.gather(
            *(
                worker.compute_score.remote(batch[k : k + 1])
                for k, worker in zip(range(4), manager.reward_loop_workers * 2)
            )
        )

    streamed = asyncio.run(stream())
    assert [s["reward_score"] for s in streamed] == pytest.approx([e["score"] for e in expected[:4]])
    assert streamed[0]["reward_extra_info"]["reason"] == "ok"
