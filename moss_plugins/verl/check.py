"""``run.sh --check``: everything a recipe's launch needs, checked on CPU in about a minute, without a download.

    python -m moss_plugins.verl.check RECIPE_DIR --family qwen2_5_vl [override ...]

1. builds a stand-in of the model family (the real tokenizer/processor classes, tiny vocabulary; no weights);
2. composes the recipe's config through verl's own ``main_ppo --cfg job`` and fails on any key verl's schema
   does not have (Hydra would silently add it);
3. validates the data files (every row, with file/row/field; default: the bundled mini split, exported);
4. builds tokenizer and processor as verl's trainer does (``HFModelConfig``: custom chat template included),
   the dataset with verl's ``create_rl_dataset`` and a batch with its ``collate_fn``, and the first prompt as
   the rollout does (our ``process_multi_modal_info`` + the processor); every prompt, with the largest video
   the caps allow, must fit ``data.max_prompt_length``;
5. loads the reward manager with verl's ``load_reward_manager`` and scores reference traces through
   ``run_single``: the reference must score full marks and a wrong letter must lose the accuracy reward.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..testing import tiny_models as tiny

PLAIN_GROUPS = ("reward=moss_dtw", "data=moss_video")

# The documented variants (recipe READMEs, "Variants"): LoRA as verl's Qwen2.5-VL LoRA example sets it, and the
# override that keeps the vision tower out of LoRA, i.e. frozen.
LORA = (
    "actor_rollout_ref.model.lora_rank=64",
    "actor_rollout_ref.model.lora_alpha=32",
    "actor_rollout_ref.model.target_modules=all-linear",
    "actor_rollout_ref.actor.optim.lr=3e-6",
)
LORA_FROZEN_VISION = "actor_rollout_ref.model.exclude_modules=.*visual.*"


class CheckFailed(Exception):
    pass


def unknown_keys(config: dict, schema: dict, prefix: str = "") -> list[str]:
    """Keys of ``config`` that ``schema`` (verl's composed defaults) does not have; a mapping that is empty in
    the schema is free-form (``rollout.engine_kwargs.vllm``) and takes any key."""
    out = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        if key not in schema:
            out.append(path)
        elif isinstance(value, dict) and isinstance(schema[key], dict) and schema[key]:
            out += unknown_keys(value, schema[key], f"{path}.")
    return out


@functools.cache
def _schema() -> dict:
    """verl's defaults with our two groups: the keys a recipe may set."""
    from .compose import compose_job

    return OmegaConf.to_container(compose_job(PLAIN_GROUPS), resolve=False)


def validate_data(files: list[str], frames: bool, console: Console) -> None:
    from .rows import check_file

    for path in files:
        n, errors = check_file(path, frames)
        if errors:
            for message in errors[:5]:
                console.print(f"  [red]{escape(message)}")
            raise CheckFailed(f"{path}: {len(errors)} of {n} rows are invalid")
        console.print(f"  [green]ok[/] {path}: {n} rows")


def compose(recipe: Path, overrides: list[str], console: Console):
    from .compose import compose_job

    config = compose_job(overrides, config_dir=recipe)
    unknown = unknown_keys(OmegaConf.to_container(config, resolve=False), _schema())
    if unknown:
        raise CheckFailed(f"{recipe / 'config.yaml'} sets key(s) verl does not have: {unknown}")
    if OmegaConf.select(config, "actor_rollout_ref.actor.freeze_vision_tower"):
        raise CheckFailed(
            "actor_rollout_ref.actor.freeze_vision_tower=true does nothing in verl 0.9 (the key exists, no code reads "
            f"it: the vision tower would train). Freeze it with LoRA instead: {' '.join(LORA)} {LORA_FROZEN_VISION}"
        )
    manager, dataset = config.reward.reward_manager, config.data.custom_cls
    console.print(
        f"  reward manager: {manager.source}:{manager.name}   dataset: {dataset.path}:{dataset.name}"
    )
    return config


def check_dataset(config, model, console: Console) -> None:
    """Builds the dataset and a batch as verl does; every prompt must fit data.max_prompt_length, video included."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils.dataset.rl_dataset import collate_fn
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    dataset = create_rl_dataset(config.data.train_files, config.data, model.tokenizer, model.processor)
    batch = next(iter(DataLoader(dataset, batch_size=2, collate_fn=collate_fn)))
    limit = config.data.max_prompt_length
    templater = model.processor or model.tokenizer
    text_tokens = max(
        len(
            model.tokenizer(
                templater.apply_chat_template(
                    dataset[k]["raw_prompt"], add_generation_prompt=True, tokenize=False
                ),
                add_special_tokens=False,
            )["input_ids"]
        )
        for k in tqdm(range(len(dataset)), desc="prompt lengths", leave=False)
    )
    budget = 0
    if model.processor is not None:  # the rollout's view of the first prompt: decoded frames + processor
        messages = list(batch["raw_prompt"][0])
        patch = model.processor.image_processor.patch_size
        _, videos, _ = asyncio.run(type(dataset).process_multi_modal_info(messages, patch, config.data))
        text = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = build_multimodal_processor_inputs(model.processor, text=[text], videos=videos)
        budget = dataset.video_options.max_video_tokens(patch)
        console.print(
            f"  first prompt as the rollout builds it: {inputs['input_ids'].shape[1]} tokens, video "
            f"{tuple(videos[0][0].shape)} (T, C, H, W), frames before the cut only"
        )
    console.print(
        f"  {type(dataset).__name__}: {len(dataset)} rows; longest prompt {text_tokens} text tokens (stand-in "
        f"tokenizer) + at most {budget} video tokens (caps); limit data.max_prompt_length={limit}"
    )
    if text_tokens + budget > limit:
        raise CheckFailed(
            f"prompts need up to {text_tokens + budget} tokens, over data.max_prompt_length={limit}: "
            "raise it, or lower data.moss_video.max_frames / max_pixels"
        )
    max_model_len = config.actor_rollout_ref.rollout.max_model_len
    if max_model_len is not None and max_model_len < limit + config.data.max_response_length:
        raise CheckFailed(f"rollout.max_model_len={max_model_len} < max_prompt_length + max_response_length")


def check_reward(config, tokenizer, files: list[str], console: Console, n: int = 4) -> None:
    """Reference traces (and the same with a wrong letter) through verl's loader and ``run_single``."""
    import pyarrow.parquet as pq
    from verl.trainer.ppo.reward import load_reward_manager

    from ..testing.responses import reference_response, rollout_batch, wrong_letter

    manager = load_reward_manager(config, tokenizer)
    rows = pq.read_table(files[0]).slice(0, n).to_pylist()
    truths = [row["reward_model"]["ground_truth"] for row in rows for _ in range(2)]
    texts = [reference_response(t, None if k % 2 == 0 else wrong_letter(t)) for k, t in enumerate(truths)]
    batch = rollout_batch(tokenizer, texts, truths)

    async def score_all():
        return await asyncio.gather(*(manager.run_single(batch[k : k + 1]) for k in range(len(batch))))

    results = [out["reward_extra_info"] for out in manager.loop.run_until_complete(score_all())]
    table = Table(
        title=f"{type(manager).__name__}.run_single on {len(rows)} reference traces", title_justify="left"
    )
    for column in ("id", "response", "score", "acc", "format", "process", "reason"):
        table.add_column(column, justify="left" if column in ("id", "response", "reason") else "right")
    for k, r in enumerate(results):
        sample_id, label = rows[k // 2]["extra_info"]["id"], ("reference", "wrong letter")[k % 2]
        table.add_row(
            sample_id,
            label,
            f"{r['score']:.3f}",
            f"{r['acc']:.0f}",
            f"{r['format']:.0f}",
            f"{r['process']:.2f}",
            r["reason"],
        )
        if label == "reference" and (r["acc"], r["format"], r["process"], r["reason"]) != (
            1.0,
            1.0,
            1.0,
            "ok",
        ):
            raise CheckFailed(f"{sample_id}: the reference trace does not score full marks: {r}")
        if label == "wrong letter" and r["acc"] != 0.0:
            raise CheckFailed(f"{sample_id}: a wrong answer letter was scored correct: {r}")
    console.print(table)


def _files(value) -> list[str]:
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def run_check(recipe: Path, family: str, overrides: list[str], console: Console) -> None:
    from verl.utils.config import omega_conf_to_dataclass

    with tempfile.TemporaryDirectory(prefix="moss-check-") as tmp:
        console.rule(f"[bold]{recipe.name}: --check (CPU, no download)")
        model_dir = tiny.build(family, Path(tmp) / family)
        console.print(
            f"1. model: a local {family} stand-in ({', '.join(sorted(p.name for p in model_dir.iterdir()))})"
        )
        from .rows import mini_split_overrides

        data = mini_split_overrides(Path(tmp) / "data", overrides)
        overrides = [f"actor_rollout_ref.model.path={model_dir}", *data, *overrides]
        if data:
            console.print(
                f"   data: the bundled mini split, exported with `moss data export --format verl` to {tmp}"
            )
        console.print("2. composing through verl.trainer.main_ppo --cfg job")
        config = compose(recipe, overrides, console)
        console.print("3. validating the data files")
        train = _files(config.data.train_files)
        validate_data(
            sorted(set(train + _files(config.data.val_files))),
            config.data.moss_video.video_as == "frames",
            console,
        )
        console.print("4. tokenizer, processor and dataset as verl's trainer builds them")
        # verl's HFModelConfig, built as the trainer builds it.
        model = omega_conf_to_dataclass(config.actor_rollout_ref.model)
        console.print(
            f"  tokenizer {type(model.tokenizer).__name__}, processor {type(model.processor).__name__}"
        )
        check_dataset(config, model, console)
        console.print("5. scoring reference traces through the reward manager")
        check_reward(config, model.tokenizer, train, console)
    console.print(
        f"[bold green]check passed[/]: {recipe.name} composes, its data loads and scores as expected."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.sh --check", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="the recipe folder (holding config.yaml)")
    parser.add_argument(
        "--family", choices=tiny.FAMILIES, required=True, help="the model family of the recipe"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="Hydra overrides, as run.sh passes them to main_ppo (without "
        "data.train_files: the bundled mini split, exported)",
    )
    # Intermixed: run.sh passes RECIPE --family F, then overrides; plain parse_args gives all positionals to the
    # first group it meets and rejects the overrides after --family as "unrecognized arguments".
    args = parser.parse_intermixed_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)
    try:
        run_check(args.recipe.resolve(), args.family, args.overrides, console)
    except (CheckFailed, ValueError) as e:
        console.print(f"[bold red]check failed[/]: {escape(str(e))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
