"""Reward-loop throughput: moss_dtw vs verl's naive manager calling the same reward function, side by side.

    python benchmarks/verl_reward_manager.py [--groups 128] [--n 8]

One RewardLoopWorker's work for a training step: ``--groups`` GRPO groups of ``--n`` rollouts (the bundled
example candidates: faithful, paraphrased, padded, wrong, truncated outputs) scored through ``run_single``,
all awaited at once as ``RewardLoopWorker.compute_score_batch`` does. The naive manager runs
``reward.custom_reward_function.path=pkg://moss_plugins.reward``: the same scoring core, so the ratio is
the cost of what moss_dtw adds (truncation check, extra keys, the per-group reference preparation).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=128)
    parser.add_argument("--n", type=int, default=8, help="rollouts per group (rollout.n)")
    args = parser.parse_args()

    from verl.trainer.ppo.reward import load_reward_manager

    from moss_plugins.testing import tiny_models as tiny
    from moss_plugins.testing.examples import load_examples
    from moss_plugins.verl.compose import compose_job
    from moss_plugins.testing.responses import rollout_batch

    examples = load_examples()
    responses, truths = [], []
    for g in range(args.groups):
        example = examples[g % len(examples)]
        # A distinct reference per group, as in training (each prompt has its own trace).
        truth = {
            **example["ground_truth"],
            "trace": [*example["ground_truth"]["trace"], f"Group {g} ends here."],
        }
        candidates = example["candidates"]
        responses += [candidates[(g + k) % len(candidates)]["output"] for k in range(args.n)]
        truths += [truth] * args.n

    config = compose_job(["reward=moss_dtw", "data=moss_video"])
    naive = OmegaConf.create(OmegaConf.to_container(config))
    naive.reward.reward_manager.name = "naive"
    naive.reward.custom_reward_function.path = "pkg://moss_plugins.reward"
    console = Console(width=120)
    tokenizer = tiny.qwen2_5_vl_tokenizer()
    batch = rollout_batch(tokenizer, responses, truths)
    rows = []
    for name, cfg in (("moss_dtw", config), ("naive + pkg://moss_plugins.reward", naive)):
        from moss_plugins.reward import reference

        reference.REFERENCES.clear()
        manager = load_reward_manager(cfg, tokenizer)

        async def all_rollouts(manager=manager):
            return await asyncio.gather(*(manager.run_single(batch[k : k + 1]) for k in range(len(batch))))

        start = time.perf_counter()
        out = manager.loop.run_until_complete(all_rollouts())
        seconds = time.perf_counter() - start
        rows.append(
            (
                name,
                len(out) / seconds,
                reference.REFERENCES.loads / args.groups,
                sum(o["reward_score"] for o in out) / len(out),
            )
        )

    table = Table(title=f"{args.groups} groups x n={args.n} = {len(batch)} rollouts through run_single")
    for column in ("manager", "rollouts / s", "reference preparations / group", "mean score"):
        table.add_column(column, justify="left" if column == "manager" else "right")
    for name, rate, preps, mean in rows:
        table.add_row(name, f"{rate:.0f}", f"{preps:.2f}", f"{mean:.3f}")
    console.print(table)
    console.print(
        f"moss_dtw runs at {rows[0][1] / rows[1][1]:.2f}x the naive manager's rate on the same reward core"
    )


if __name__ == "__main__":
    main()
