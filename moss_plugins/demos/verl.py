"""Demo stage ``verl``: what verl's GRPO pipeline sees with ``reward=moss_dtw data=moss_video``, on CPU.

The config as ``main_ppo --cfg job`` composes it; the bundled mini split through verl's dataset factory with a
local Qwen2.5-VL processor; one GRPO group's rollout hook (8 calls, one decode) and the frames it feeds the
processor, drawn next to the masked future (PNG); a group of rollouts scored through ``run_single``; the same
sample as the text-only (Phi-2) recipe sees it.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from rich.table import Table

OUT = Path("outputs") / "verl-demo"


def run(console) -> None:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs
    from verl.workers.config import HFModelConfig

    from moss_plugins.data import mini_split_dir
    from moss_plugins.data.captions import render_captions
    from moss_plugins.verl.rows import export_verl

    from ..testing import tiny_models as tiny
    from ..verl.compose import compose_job
    from ..verl.frames import CACHE

    config = compose_job(["reward=moss_dtw", "data=moss_video"])
    manager_cfg, video = config.reward.reward_manager, config.data.moss_video
    console.print(
        "[bold]python -m verl.trainer.main_ppo reward=moss_dtw data=moss_video --cfg job[/] composes:"
    )
    console.print(
        f"  reward.reward_manager = {manager_cfg.source}:{manager_cfg.name}   "
        f"reward.moss_dtw = {OmegaConf.to_container(config.reward.moss_dtw)}"
    )
    console.print(
        f"  data.custom_cls = {config.data.custom_cls.path}:{config.data.custom_cls.name}   "
        f"data.moss_video = {OmegaConf.to_container(video)}"
    )

    with tempfile.TemporaryDirectory(prefix="moss-verl-demo-") as tmp:
        files = export_verl(mini_split_dir(), Path(tmp) / "data").files
        model = HFModelConfig(path=str(tiny.build("qwen2_5_vl", Path(tmp) / "qwen")))
        dataset = create_rl_dataset(str(files["train"]), config.data, model.tokenizer, model.processor)
        console.print(
            f"\n{type(dataset).__name__} from verl's create_rl_dataset: {len(dataset)} rows of the mini "
            f"split (every row checked), local {type(model.processor).__name__} (no download)"
        )
        row = dataset[0]
        messages, truth, extra = row["raw_prompt"], row["reward_model"]["ground_truth"], row["extra_info"]

        CACHE.clear()
        patch = model.processor.image_processor.patch_size

        async def group():  # the 8 agent loops of one GRPO group call the hook at once
            calls = [type(dataset).process_multi_modal_info(messages, patch, config.data) for _ in range(8)]
            return await asyncio.gather(*calls)

        (_, ((frames, meta),), _) = asyncio.run(group())[0]
        times = [i / meta["fps"] for i in meta["frames_indices"]]
        text = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = build_multimodal_processor_inputs(model.processor, text=[text], videos=[(frames, meta)])
        n_video = int((inputs["input_ids"] == model.processor.video_token_id).sum())
        console.print(
            f"one GRPO group = 8 rollout calls of process_multi_modal_info -> [bold]{CACHE.loads} decode[/] "
            f"({CACHE.requests} requests); {extra['id']}: {tuple(frames.shape)} frames (T, C, H, W) at "
            f"{', '.join(f'{t:g}' for t in times)} s, all before the cut at {extra['observed_until']:g} s; "
            f"{n_video} video tokens of {inputs['input_ids'].shape[1]}"
        )
        png = _frames_png(frames, times, row, OUT / f"{extra['id']}.png")
        console.print(f"frames the policy sees vs the masked future: {png}")

        _score_group(
            console, load_reward_manager(_with_limit(config, model.tokenizer, truth), model.tokenizer), truth
        )

        text_only = render_captions(extra["captions"], extra["observed_until"])
        console.print(
            "\nthe same sample for the text-only recipe (Phi-2, data.moss_video.video_as=captions): the "
            "<video> placeholder becomes"
        )
        console.print(f"[dim]{text_only}")


def _with_limit(config, tokenizer, truth):
    """The config with a response limit just above the reference's length, so a longer rollout is cut."""
    from omegaconf import OmegaConf

    from ..testing.responses import reference_response

    limited = OmegaConf.create(OmegaConf.to_container(config))
    n = len(tokenizer(reference_response(truth), add_special_tokens=False)["input_ids"])
    limited.actor_rollout_ref.rollout.response_length = n + 8
    return limited


def _score_group(console, manager, truth) -> None:
    from moss_plugins.output_format import format_response
    from moss_plugins.reward import parse_ground_truth

    from ..testing.responses import reference_response, rollout_batch, wrong_letter

    parsed = parse_ground_truth(truth)
    steps, letter = parsed.step_texts, parsed.answer
    group = {
        "the reference trace": reference_response(truth),
        "reference steps, wrong letter": reference_response(truth, wrong_letter(truth)),
        "steps in reverse order": format_response(steps[::-1], letter),
        "answer only": f"<answer>{letter}</answer>",
        "no tags": f"I think it is {letter}.",
        "padded, cut at the length limit": reference_response(truth).replace(
            "</think>", "filler " * 60 + "</think>"
        ),
        "empty": "",
        "special tokens": "<|vision_start|><|video_pad|>" * 4,
    }
    batch = rollout_batch(
        manager.tokenizer,
        list(group.values()),
        [truth] * len(group),
        response_length=manager.options.max_response_tokens,
    )

    async def all_rows():
        return await asyncio.gather(*(manager.run_single(batch[k : k + 1]) for k in range(len(batch))))

    results = manager.loop.run_until_complete(all_rows())
    table = Table(
        title="one GRPO group scored by MossDTWRewardManager.run_single (reward_extra_info)",
        title_justify="left",
    )
    for column in ("rollout", "score", "acc", "format", "process", "padding", "truncated", "reason"):
        table.add_column(column, justify="left" if column in ("rollout", "reason") else "right")
    for label, out in zip(group, results):
        r = out["reward_extra_info"]
        table.add_row(
            label,
            f"{out['reward_score']:.3f}",
            f"{r['acc']:.0f}",
            f"{r['format']:.0f}",
            f"{r['process']:.2f}",
            f"{r['padding']:.2f}",
            f"{r['truncated']:.0f}",
            r["reason"],
        )
    console.print(table)


def _frames_png(frames, times, row, path: Path) -> Path:
    """The frames fed to the processor (top) and the video after the cut (bottom, masked from the policy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from moss_plugins.data.video import load_frames

    video, cut = row["extra_info"], row["extra_info"]["observed_until"]
    after = load_frames(_video_path(row), fps=2.0, timeout=None)
    later = [(f, t) for f, t in zip(after.frames, after.timestamps) if t >= cut][: len(frames)]
    cols = max(len(frames), len(later), 1)
    fig, axes = plt.subplots(2, cols, figsize=(1.3 * cols, 3.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (frame, t) in enumerate(zip(frames, times)):
        axes[0, k].imshow(frame.permute(1, 2, 0).numpy())
        axes[0, k].set_title(f"{t:.2f} s", fontsize=7)
    for k, (frame, t) in enumerate(later):
        axes[1, k].imshow(frame, alpha=0.35)
        axes[1, k].set_title(f"{t:.2f} s", fontsize=7, color="firebrick")
    fig.suptitle(
        f"{video['id']}: what the policy sees (top, cut at {cut:g} s) and the masked future (bottom)\n"
        f"Q: {video['question']}",
        fontsize=8,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _video_path(row) -> str:
    """The video of a dataset row: verl's dataset drops the ``videos`` column, the prompt keeps the item."""
    (item,) = [
        c for m in row["raw_prompt"] for c in m["content"] if isinstance(c, dict) and c.get("type") == "video"
    ]
    return item["video"]
