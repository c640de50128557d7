"""Learning evidence: does GRPO with this reward teach a model, and does the process reward make traces better
than an outcome-only reward? The MOSS-ChatV ablation in miniature, end to end and offline.

    python benchmarks/learning.py --out runs/learning            # the full experiment (CPU: hours)
    python benchmarks/learning.py --out runs/learning-tiny --tiny   # every stage at toy size (minutes)
    python benchmarks/learning.py --out runs/gpu --device cuda --rollout vllm   # the same on one GPU
    # a sweep longer than one machine's time: each machine runs some runs and carries the rest over
    python benchmarks/learning.py --out runs/learning --max-runs 1 --results benchmarks/results/learning
    python benchmarks/learning.py --out runs/learning --max-runs 2 --parallel 2 \
        --from-results benchmarks/results/learning --results benchmarks/results/learning

Stages (each skipped when its output exists, so a run cut short continues where it stopped):

1. **data**: a synthetic MOSS-Video set (``moss data synth``); the test split's videos are never in train. Train is
   cut by video into an SFT slice and an RL slice; the RL slice and the held-out test are exported for verl.
   The video reaches the model as captions (:func:`moss_plugins.data.captions.text_prompt`, the Phi-2 recipe's
   ``video_as=captions``).
2. **model**: a small Phi (Phi-2's architecture and the recipe's chat format) with a BPE trained on the data
   (:func:`moss_plugins.testing.tiny_models.phi`).
3. **sft**: the warm start, supervised fine-tuning (transformers' ``Trainer``) on the reference traces of the SFT
   slice, with the answer letter's loss weighted up so that a hundred trace tokens do not drown it; evaluated on
   the held-out test.
4. **bind**: the SFT model taught which letter names the option its trace concludes, which SFT on traces never
   teaches a model this small: a curriculum of letter-only phases (:data:`BIND_PHASES`, :func:`run_bind`);
   evaluated on the held-out test. ``--bind-steps`` with no number skips it.
5. **grpo**: verl's own trainer (``main_ppo`` with the Phi-2 recipe's config, this project's dataset class, reward
   manager and, on a CPU, CPU backend) from that start, one run per arm and seed, the same steps, batch
   and rollouts in each; verl validates on the held-out test before training and every ``--eval-every`` steps and
   writes the generations, which are scored here; checkpoints every ``--eval-every`` steps (``resume_mode=auto``).
6. **report**: ``metrics.csv`` (arm, seed, step: training reward components and held-out metrics),
   ``curves.png``, ``summary.json`` and ``summary.md``, over the finished runs (the others are named).
   ``--results DIR`` copies them there with the GRPO start (~4 MB) and each finished run's result (a few
   hundred KB), which is what ``--from-results DIR`` needs to go on with the sweep on another machine instead
   of the model, SFT and bind stages (the data is made again and must hash the same).

Held-out metrics are the project's own (:func:`moss_plugins.evaluation.trace_metrics.reference_metrics`):
accuracy, format, ``trace_dtw`` under the default and the paper preset, step coverage, temporal order and
answer-trace consistency, overall and per task type; and ``trace_accuracy``, whether the option the trace
concludes is the right one (``answer_consistency`` against the gold answer), whatever letter follows.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "phi2_moss_dtw"
ARMS = {  # reward options per arm (reward.moss_dtw.*); each names its preset, as the recipe sets preset=paper
    "outcome": {"preset": "default", "process_weight": 0},
    "paper": {"preset": "paper"},
    "default": {"preset": "default"},
}
HELDOUT = (
    "accuracy",
    "format_rate",
    "trace_dtw",
    "trace_dtw_paper",
    "step_coverage",
    "temporal_order",
    "answer_consistency",
    "trace_accuracy",
)


@dataclasses.dataclass
class Plan:
    """Every size of the experiment. The defaults are the sweep in ``benchmarks/results/learning``: the settings
    under which GRPO from the bind stage first raised held-out accuracy (docs/verl.md), run to 160 steps.
    :data:`TINY` is the same pipeline at toy size."""

    videos: int = 14000  # 5 questions each; the kept scenes and tasks leave ~1 sample per video
    test_share: float = 0.05  # of the videos, never in train
    rl_share: float = 0.1  # of the train videos, for GRPO prompts; the rest is the SFT slice
    # The cyclic scenes and the tasks a 1M-parameter model learns to reason through (empty: all)
    tasks: tuple[str, ...] = ("state_at_cut", "next_state", "event_order")
    scenes: tuple[str, ...] = ("traffic_light", "color_cycle")
    min_seconds: float = 6.0  # video length, drawn per video (the generator's default is 8-12 s); shorter
    max_seconds: float = 7.0  # videos have fewer caption lines and shorter traces, i.e. cheaper steps
    vocab: int = 1000
    layers: int = 4
    hidden: int = 128
    head_dim: int = 32  # hidden / head_dim attention heads
    sft_epochs: float = 3.0
    sft_steps: int = 3600  # if > 0, the number of SFT steps instead of sft_epochs
    sft_minutes: float = 0  # if > 0, SFT stops after this many minutes (a shared machine's budget)
    sft_batch: int = 16
    sft_lr: float = 1e-3
    answer_weight: float = 8.0  # loss weight of the answer letter's token
    trace_weight: float = 1.0  # loss weight of every other response token
    # Letter binding (run_bind): steps per phase of BIND_PHASES (empty: no binding, GRPO starts from SFT); the
    # last phase's number is a cap: it ends once its letter accuracy on the RL prompts reaches bind_target. A
    # fixed count left one machine's start at 0.548 and another's at 0.420 (SFT is not bit-reproducible across
    # machines, and the anchored phase amplifies the difference), so the start is set by what it can do.
    bind_steps: tuple[int, ...] = (1500, 700, 2000)
    bind_target: float = 0.85  # above 1: the last phase always runs its cap
    bind_check_every: int = 100  # steps between the last phase's checks (250 prompts: ~4 steps' time)
    bind_orders: tuple[int, ...] = (1, 3, 1)  # option orders per sample and phase: its own, then shuffles
    bind_anchored: tuple[str, ...] = ("full",)  # phases that also train on reference traces each step
    bind_batch: int = 32
    bind_lr: float = 5e-4
    eval_samples: int = 250  # held-out samples scored at each evaluation
    response_length: int = 256
    prompt_length: int = 512
    steps: int = 160  # GRPO steps per arm and seed (~1 h each on 2 CPU cores)
    batch: int = 8  # prompts per GRPO step
    rollouts: int = 8  # per prompt
    mini_batch: int = 0  # prompts per actor update (ppo_mini_batch_size); 0: all, one update a step
    eval_every: int = 10  # a validation of 250 prompts takes as long as 1.5 training steps (CPU: 29 s, 18 s)
    lr: float = 1e-4
    # Of the rollouts (verl scores them under the same temperature); validation is greedy. At 1.0 this model's
    # samples stray (right 14-61 % of a batch against 55 % greedy) and 20 steps lowered held-out accuracy.
    temperature: float = 0.5
    kl_coef: float = 0.01  # weight of the KL loss to the GRPO start (the recipe's)
    arms: tuple[str, ...] = tuple(ARMS)
    seeds: tuple[int, ...] = (0, 1)


TINY = {
    "videos": 40,
    "test_share": 0.2,
    "rl_share": 0.25,
    "tasks": (),
    "scenes": (),
    "vocab": 800,
    "layers": 2,
    "hidden": 64,
    "sft_epochs": 0.5,
    "sft_steps": 0,
    "sft_batch": 8,
    "bind_steps": (3, 3, 3),
    "bind_target": 0.0,  # reached at the first check: the stop is exercised
    "bind_check_every": 1,
    "bind_batch": 4,
    "eval_samples": 8,
    "response_length": 256,
    "prompt_length": 1024,
    "steps": 3,
    "batch": 2,
    "rollouts": 4,
    "eval_every": 3,
    "arms": ("default",),
    "seeds": (0,),
}


def log(message: str) -> None:
    print(f"[learning {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------- data


def build_data(out: Path, plan: Plan, seed: int) -> dict:
    """Synthesise, slice and export; returns the paths (``data/done.json``)."""
    from moss_plugins.data import load_samples, save_samples
    from moss_plugins.data.synth.generate import SynthConfig, generate
    from moss_plugins.verl.rows import export_verl

    data = out / "data"
    done = data / "done.json"
    if done.exists():
        return json.loads(done.read_text())
    synth = data / "synth"
    generate(
        plan.videos,
        seed,
        synth,
        SynthConfig(
            duration=(plan.min_seconds, plan.max_seconds),
            size=(32, 32),  # the model reads captions, not pixels: small frames render fast
            split_ratio={"train": 1 - plan.test_share, "test": plan.test_share},
        ),
    )

    def kept(samples):
        return [
            s
            for s in samples
            if (not plan.tasks or s.task_type in plan.tasks)
            and (not plan.scenes or s.meta["scene"] in plan.scenes)
        ]

    train = kept(load_samples(synth / "train.jsonl").samples)
    test = kept(load_samples(synth / "test.jsonl").samples)
    videos = sorted({s.video for s in train})
    every = max(2, round(1 / plan.rl_share))
    rl_videos = set(videos[::every])
    slices = {
        "sft": [s for s in train if s.video not in rl_videos],
        "rl": [s for s in train if s.video in rl_videos],
        "test": test[: plan.eval_samples],
    }
    paths = {}
    for name, samples in slices.items():
        paths[name] = str(save_samples(samples, synth / f"{name}.jsonl"))
        if name != "sft":
            paths[f"{name}_parquet"] = str(export_verl(paths[name], data / f"{name}.parquet").files["all"])
    info = {
        **paths,
        "sha256": fingerprint(slices["rl"] + slices["test"], synth),
        "counts": {k: len(v) for k, v in slices.items()},
        "videos": {
            "sft": len(videos) - len(rl_videos),
            "rl": len(rl_videos),
            "test": len({s.video for s in test}),
        },
    }
    done.write_text(json.dumps(info, indent=1))
    return info


def fingerprint(samples, root: Path) -> str:
    """sha256 of the prompts and reference responses GRPO and the evaluation read: a results folder is only
    continued (``--from-results``) on the same text, whatever folder the data was rendered to."""
    digest = hashlib.sha256()
    for sample in samples:
        for text in (sample.id, *prompt_and_response(sample, root)):
            digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def load(path: str):
    from moss_plugins.data import load_samples

    return load_samples(path).samples


def prompt_and_response(sample, root: Path) -> tuple[str, str]:
    """The user turn the policy sees in verl (captions, then the question) and the reference response."""
    from moss_plugins.data.captions import text_prompt
    from moss_plugins.output_format import format_response

    return text_prompt(sample, root), format_response([s.text for s in sample.trace], sample.answer)


# --------------------------------------------------------------------------------------------------------- model


def recipe_chat_template() -> str:
    """The Phi-2 recipe's chat format ("Instruct: ... Output:"), which verl applies in GRPO: SFT and evaluation
    use the same."""
    from omegaconf import OmegaConf

    return OmegaConf.load(RECIPE / "config.yaml").actor_rollout_ref.model.custom_chat_template


def build_model(out: Path, plan: Plan, data: dict, seed: int) -> Path:
    from moss_plugins.testing.tiny_models import phi

    path = out / "model" / "init"
    if (path / "config.json").exists():
        return path
    import jinja2

    root = Path(data["sft"]).parent
    template = recipe_chat_template()
    turn = jinja2.Template(template)  # the text the model will see, chat markers included
    lines = [
        turn.render(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True) + response
        for prompt, response in (prompt_and_response(s, root) for s in load(data["sft"])[:4000])
    ]
    return phi(path, lines, plan.vocab, plan.layers, plan.hidden, template, seed, plan.head_dim)


def chat(tokenizer, prompt: str) -> list[int]:
    """Prompt ids as verl's dataset makes them: the chat template with the generation prompt."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True, return_dict=False
    )


# ----------------------------------------------------------------------------------------------------------- sft


def up_to_answer(tokenizer, response: str) -> tuple[list[int], str]:
    """The ids of ``response`` up to its last ``<answer>`` tag, and the text after it (the letter onwards),
    tokenized apart so that the letter starts a pre-token of its own."""
    from moss_plugins.output_format import ANSWER_OPEN

    cut = response.rindex(ANSWER_OPEN) + len(ANSWER_OPEN)
    return tokenizer(response[:cut], add_special_tokens=False)["input_ids"], response[cut:]


def sft_examples(tokenizer, samples, root: Path, plan: Plan) -> list[dict]:
    """Token ids, labels (the response only) and per-token loss weights (the answer letter up-weighted)."""
    examples = []
    for sample in samples:
        prompt, response = prompt_and_response(sample, root)
        p = chat(tokenizer, prompt)
        head, tail = up_to_answer(tokenizer, response)
        r = head + tokenizer(tail, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if len(p) > plan.prompt_length or len(r) > plan.response_length:
            continue
        weights = [plan.trace_weight] * len(r)
        weights[len(head)] = plan.answer_weight  # the letter's first token
        examples.append(
            {"input_ids": p + r, "labels": [-100] * len(p) + r, "weights": [0.0] * len(p) + weights}
        )
    return examples


def right_padded(rows: list[dict], pad: int) -> dict:
    """A batch of :func:`sft_examples`, padded on the right, as tensors."""
    import torch

    width = max(len(e["input_ids"]) for e in rows)

    def padded(key, value):
        return torch.tensor([e[key] + [value] * (width - len(e[key])) for e in rows])

    lengths = torch.tensor([len(e["input_ids"]) for e in rows])
    return {
        "input_ids": padded("input_ids", pad),
        "labels": padded("labels", -100),
        "weights": padded("weights", 0.0).float(),
        "attention_mask": (torch.arange(width)[None] < lengths[:, None]).long(),
    }


def weighted_nll(model, batch: dict):
    """The warm start's loss: next-token negative log-likelihood, weighted per token."""
    import torch

    weights, labels = batch["weights"][:, 1:], batch["labels"][:, 1:]
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    nll = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels.clamp(min=0), reduction="none"
    )
    return (nll * weights).sum() / weights.sum()


def run_sft(out: Path, plan: Plan, data: dict, model_dir: Path, seed: int, device: str) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    path = out / "sft" / "model"
    if (path / "config.json").exists():
        return path
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = sft_examples(tokenizer, load(data["sft"]), Path(data["sft"]).parent, plan)
    log(
        f"sft: {len(examples)} examples, {sum(len(e['input_ids']) for e in examples) / len(examples):.0f} tokens "
        f"each on average"
    )

    class WeightedTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return weighted_nll(model, inputs)

    args = TrainingArguments(
        output_dir=str(out / "sft" / "trainer"),
        per_device_train_batch_size=plan.sft_batch,
        num_train_epochs=plan.sft_epochs,
        max_steps=plan.sft_steps or -1,
        learning_rate=plan.sft_lr,
        lr_scheduler_type="cosine",
        warmup_ratio=0.03,
        weight_decay=0.01,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        seed=seed,
        use_cpu=device == "cpu",
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
        max_grad_norm=1.0,
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    start = time.time()
    trainer = WeightedTrainer(
        model=model,
        args=args,
        train_dataset=examples,
        data_collator=lambda rows: right_padded(rows, tokenizer.pad_token_id),
        callbacks=[TimeBudget(plan.sft_minutes)] if plan.sft_minutes else None,
    )
    result = trainer.train()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    record = {
        "plan": dataclasses.asdict(plan),
        "examples": len(examples),
        "mean_tokens": round(sum(len(e["input_ids"]) for e in examples) / len(examples)),
        "steps": result.global_step,
        "batch": plan.sft_batch,
        "samples_seen": result.global_step * plan.sft_batch,
        "wall_s": round(time.time() - start, 1),
        "loss_log": [
            {"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h
        ],
    }
    (out / "sft" / "train.json").write_text(json.dumps(record, indent=1))
    return path


def TimeBudget(minutes: float):
    """A Trainer callback that ends training after ``minutes`` of wall time."""
    from transformers import TrainerCallback

    class _TimeBudget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.deadline = time.time() + 60 * minutes

        def on_step_end(self, args, state, control, **kwargs):
            if time.time() > self.deadline:
                control.should_training_stop = True

    return _TimeBudget()


# ---------------------------------------------------------------------------------------------------------- bind

# SFT on traces leaves a model this small writing the right conclusion and a chance letter: one letter per hundred
# trace tokens never shows it which letter names the option it concluded, and weighting that letter up does not
# help (docs/verl.md). Trained on the letter alone with the real prompt, it never finds the binding either; as a
# curriculum it does, each phase starting from what the one before found:
BIND_PHASES = (
    "named",  # the options, then "Which option says: <the answer's text>?"
    "conclusion",  # the question and options, no video; the response is the trace's last step alone
    "full",  # the real prompt and reference trace
)


def binding_pair(phase: str, sample, root: Path | None, k: int) -> tuple[str, str]:
    """The (prompt, response) of ``sample`` in a binding phase. ``k`` > 0 shuffles the options (seeded by the
    sample and ``k``), so that the answer's letter moves and no letter prior can stand in for the binding;
    the full prompt keeps its own order."""
    import random

    from moss_plugins.output_format import LETTERS, build_prompt, format_options, format_response

    if phase == "full":
        return prompt_and_response(sample, root)
    options = list(sample.options)
    if k:
        random.Random(f"{sample.id}/{k}").shuffle(options)
    letter = LETTERS[options.index(sample.answer_text)]
    if phase == "named":
        return (
            f"{format_options(options)}\nWhich option says: {sample.answer_text}?",
            f"<answer>{letter}</answer>",
        )
    return build_prompt(sample.question, options), format_response([sample.trace[-1].text], letter)


def letter_examples(tokenizer, pairs) -> list[tuple[list[int], int]]:
    """(prompt and response up to ``<answer>``, the index of the answer's letter) of each pair."""
    from moss_plugins.output_format import LETTERS

    examples = []
    for prompt, response in pairs:
        head, tail = up_to_answer(tokenizer, response)
        examples.append((chat(tokenizer, prompt) + head, LETTERS.index(tail[0])))
    return examples


def letter_accuracy(model, examples, letters: list[int], device: str) -> float:
    """How often the answer's letter is the likeliest of the option letters after ``<answer>``."""
    import torch

    model.eval()
    with torch.no_grad():
        hits = sum(
            int(model(torch.tensor([ids], device=device)).logits[0, -1, letters].argmax()) == answer
            for ids, answer in examples
        )
    model.train()
    return round(hits / len(examples), 4)


def run_bind(out: Path, plan: Plan, data: dict, sft_dir: Path, seed: int, device: str) -> Path:
    """The GRPO start: the SFT model taught to write the letter of the option its trace concludes.

    Each step is a cross-entropy over the option letters' logits after ``<answer>`` (``bind_batch`` examples of
    the phase). The batch is padded on the left without position ids, so each example sits at a random offset:
    the runs that found the binding did this; the one padded on the right did not (docs/verl.md). Training on
    the letter alone makes every position drift to letters (the model stops writing), so in the phases listed
    in ``bind_anchored`` each step adds a batch of the warm start's own loss on reference traces. A phase's
    model is kept in ``bind/<phase>``: a run cut short continues with the next phase. The last phase stops at
    the first check (every ``bind_check_every`` steps) whose letter accuracy on the RL prompts reaches
    ``bind_target``: a measured end rather than a step count, on prompts in neither the SFT data nor the test.
    Held-out letter accuracy (teacher-forced on the test split) per phase and the checks go to
    ``bind/train.json``."""
    import random

    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from moss_plugins.output_format import LETTERS

    if not plan.bind_steps:
        return sft_dir
    folder = out / "bind"
    final = folder / BIND_PHASES[len(plan.bind_steps) - 1]
    if (folder / "train.json").exists():
        return final
    tokenizer = AutoTokenizer.from_pretrained(sft_dir)
    train, test = load(data["sft"]), load(data["test"])[: plan.eval_samples]
    watch = load(data["rl"])[: plan.eval_samples]
    width = max(len(s.options) for s in train + test + watch)
    letters = [tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in LETTERS[:width]]
    roots = Path(data["sft"]).parent, Path(data["test"]).parent
    last = BIND_PHASES[len(plan.bind_steps) - 1]
    anchor = sft_examples(tokenizer, train, roots[0], plan)
    rng, record, init = random.Random(seed), {}, sft_dir
    torch.manual_seed(seed)
    for phase, steps in zip(BIND_PHASES, plan.bind_steps):
        path = folder / phase
        if (path / "record.json").exists():
            record[phase] = json.loads((path / "record.json").read_text())
            init = path
            continue
        model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32).to(device)
        held_out = letter_examples(tokenizer, [binding_pair(phase, s, roots[1], 7) for s in test])
        orders = range(plan.bind_orders[BIND_PHASES.index(phase)])
        examples = letter_examples(
            tokenizer, [binding_pair(phase, s, roots[0], k) for k in orders for s in train]
        )
        anchored = phase in plan.bind_anchored
        before = letter_accuracy(model, held_out, letters, device)
        if phase == last:
            watched = letter_examples(
                tokenizer, [binding_pair(phase, s, Path(data["rl"]).parent, 0) for s in watch]
            )
        optimizer = torch.optim.AdamW(model.parameters(), lr=plan.bind_lr)
        start, losses, checks = time.time(), [], {}
        bar = tqdm(range(1, steps + 1), desc=f"bind {phase}", unit="step")
        for step in bar:
            batch = rng.sample(examples, min(plan.bind_batch, len(examples)))
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor(
                [[tokenizer.pad_token_id] * (width - len(i)) + i for i, _ in batch], device=device
            )
            mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i, _ in batch], device=device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, -1, letters]
            loss = torch.nn.functional.cross_entropy(
                logits, torch.tensor([a for _, a in batch], device=device)
            )
            if anchored:
                rows = right_padded(
                    rng.sample(anchor, min(plan.sft_batch, len(anchor))), tokenizer.pad_token_id
                )
                loss = loss + weighted_nll(model, {k: v.to(device) for k, v in rows.items()})
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if phase == last and step % plan.bind_check_every == 0:
                checks[step] = letter_accuracy(model, watched, letters, device)
                bar.set_postfix(rl_letter_accuracy=checks[step])
                if checks[step] >= plan.bind_target:
                    break
        bar.close()
        steps = len(losses)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        record[phase] = {
            "steps": steps,
            "examples": len(examples),
            "anchored": anchored,
            "wall_s": round(time.time() - start, 1),
            "loss_log": [
                round(sum(losses[k : k + 50]) / len(losses[k : k + 50]), 4) for k in range(0, steps, 50)
            ],
            "heldout_letter_accuracy": {
                "before": before,
                "after": letter_accuracy(model, held_out, letters, device),
            },
            **({"rl_letter_accuracy": checks, "target": plan.bind_target} if phase == last else {}),
        }
        (path / "record.json").write_text(json.dumps(record[phase], indent=1))
        log(f"bind: {phase} held-out letter accuracy {record[phase]['heldout_letter_accuracy']}")
        init = path
    (folder / "train.json").write_text(json.dumps(record, indent=1))
    return final


# ------------------------------------------------------------------------------------------------------ evaluate


def generate(
    model_dir: Path, prompts: list[str], max_new_tokens: int, device: str, batch: int = 16
) -> list[str]:
    """Greedy responses (verl's validation setting: temperature 0, one per prompt)."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    ids = [chat(tokenizer, p) for p in prompts]
    order = sorted(range(len(ids)), key=lambda k: len(ids[k]))
    texts: dict[int, str] = {}
    for start in tqdm(range(0, len(order), batch), desc="generating", unit="batch"):
        chunk = order[start : start + batch]
        width = max(len(ids[k]) for k in chunk)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids[k])) + ids[k] for k in chunk], device=device)
        mask = torch.tensor([[0] * (width - len(ids[k])) + [1] * len(ids[k]) for k in chunk], device=device)
        with torch.no_grad():
            seqs = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=pad,
            )
        for k, seq in zip(chunk, seqs):
            texts[k] = tokenizer.decode(seq[width:], skip_special_tokens=True)
    return [texts[k] for k in range(len(prompts))]


def score(outputs: list[str], samples) -> dict:
    """Held-out metrics, overall and per task type: the means of the project's per-sample metrics."""
    from moss_plugins.evaluation.trace_metrics import answer_consistency, reference_metrics

    rows = []
    for text, sample in zip(outputs, samples, strict=True):
        truth = sample.ground_truth()
        scored = reference_metrics(text, truth)
        metrics = scored["metrics"]
        # The option the trace concludes is the right one, whatever letter follows: separates reasoning from
        # binding the conclusion to its letter (a skill small models lack).
        metrics["trace_accuracy"] = answer_consistency(
            scored["details"]["pred_steps"], sample.answer, sample.options
        )
        metrics["trace_dtw_paper"] = reference_metrics(text, truth, preset="paper")["metrics"]["trace_dtw"]
        rows.append((sample.task_type, metrics))
    return {
        "all": _means([m for _, m in rows]),
        **{f"task/{t}": _means([m for tt, m in rows if tt == t]) for t in sorted({t for t, _ in rows})},
    }


def _means(rows: list[dict]) -> dict:
    out = {"n": len(rows)}
    for key in HELDOUT:
        values = [r[key] for r in rows if key in r]
        out[key] = round(sum(values) / len(values), 4) if values else None
    return out


def evaluate(folder: Path, plan: Plan, data: dict, model_dir: Path, device: str) -> dict:
    """Greedy held-out metrics of ``model_dir`` into ``folder/eval.json``, its generations beside them."""
    path = folder / "eval.json"
    if path.exists():
        return json.loads(path.read_text())
    samples = load(data["test"])
    root = Path(data["test"]).parent
    start = time.time()
    outputs = generate(
        model_dir, [prompt_and_response(s, root)[0] for s in samples], plan.response_length, device
    )
    result = {
        **score(outputs, samples),
        "wall_s": round(time.time() - start, 1),
        "answers": dict(sorted(_count_answers(outputs).items())),
    }
    path.write_text(json.dumps(result, indent=1))
    (folder / "generations.jsonl").write_text(
        "".join(json.dumps({"id": s.id, "output": o}) + "\n" for s, o in zip(samples, outputs))
    )
    return result


def _count_answers(outputs: list[str]) -> dict:
    from moss_plugins.output_format import answer_blocks

    counts: dict[str, int] = defaultdict(int)
    for text in outputs:
        blocks = answer_blocks(text, 1)
        counts[blocks[0].strip()[:8] if blocks else "(none)"] += 1
    return counts


# ---------------------------------------------------------------------------------------------------------- grpo

GPU = (
    "trainer.device=cuda",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    "trainer.logger=[console]",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
    "actor_rollout_ref.rollout.gpu_memory_utilization=0.4",
    "data.dataloader_num_workers=0",
    "actor_rollout_ref.model.use_remove_padding=false",
)


def grpo_args(
    run: Path, plan: Plan, data: dict, start_dir: Path, arm: str, seed: int, device: str, rollout: str
) -> list[str]:
    """``main_ppo`` overrides of one arm and seed, over the Phi-2 recipe: the CPU settings of ``run.sh --smoke``
    (or one GPU), then the experiment's sizes; only the reward options differ between arms."""
    from moss_plugins.verl.smoke import SMOKE

    return [
        *(SMOKE if device == "cpu" else GPU),
        f"actor_rollout_ref.model.path={start_dir}",
        f"actor_rollout_ref.rollout.name={rollout}",
        f"data.train_files={data['rl_parquet']}",
        f"data.val_files={data['test_parquet']}",
        f"data.train_batch_size={plan.batch}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={plan.mini_batch or plan.batch}",
        f"actor_rollout_ref.rollout.n={plan.rollouts}",
        f"data.max_prompt_length={plan.prompt_length}",
        f"data.max_response_length={plan.response_length}",
        f"actor_rollout_ref.actor.optim.lr={plan.lr}",
        f"actor_rollout_ref.rollout.temperature={plan.temperature}",
        f"actor_rollout_ref.actor.kl_loss_coef={plan.kl_coef}",
        f"trainer.total_training_steps={plan.steps}",
        f"trainer.test_freq={plan.eval_every}",
        f"trainer.save_freq={plan.eval_every}",
        "trainer.val_before_train=true",
        "trainer.resume_mode=auto",
        "trainer.max_actor_ckpt_to_keep=1",
        f"data.val_max_samples={plan.eval_samples}",
        f"data.val_batch_size={plan.eval_samples}",
        f"data.seed={seed}",
        f"actor_rollout_ref.rollout.seed={seed}",
        f"trainer.experiment_name={run.name}",
        f"trainer.default_local_dir={run / 'checkpoints'}",
        f"trainer.validation_data_dir={run / 'val'}",
        f"trainer.rollout_data_dir={run / 'rollouts'}",  # what the policy wrote each step, with its score
        *(f"reward.moss_dtw.{key}={value}" for key, value in ARMS[arm].items()),
    ]


def run_grpo(
    out: Path,
    plan: Plan,
    data: dict,
    start_dir: Path,
    device: str,
    rollout: str,
    max_runs: int | None = None,
    parallel: int = 1,
) -> dict:
    """One verl run per arm and seed, ``parallel`` at a time; a finished run is skipped, a cut one resumes, and at
    most ``max_runs`` are started (the rest wait for another invocation, here or on another machine). Returns
    each finished run's :func:`run_result`."""
    from concurrent.futures import ThreadPoolExecutor

    from moss_plugins.verl.smoke import run_main_ppo

    samples, root = load(data["test"]), Path(data["test"]).parent

    def folder(arm: str, seed: int) -> Path:
        return out / "grpo" / f"{arm}-s{seed}"

    every = [(arm, seed) for arm in plan.arms for seed in plan.seeds]
    pending = [
        run
        for run in every
        if not (folder(*run) / "done.json").exists() and not (folder(*run) / "result.json").exists()
    ][:max_runs]

    def train(arm: str, seed: int) -> None:
        run = folder(arm, seed)
        run.mkdir(parents=True, exist_ok=True)
        log(
            f"grpo {arm} seed {seed}: {plan.steps} steps of {plan.batch} prompts x {plan.rollouts} rollouts "
            f"(log: {run / 'train.log'})"
        )
        summary = run_main_ppo(
            RECIPE,
            grpo_args(run, plan, data, start_dir, arm, seed, device, rollout),
            run,
            cpu=device == "cpu",
            echo=False,
        )
        if summary["exit_code"] != 0:
            raise SystemExit(
                f"grpo {arm} seed {seed} failed (exit {summary['exit_code']}): see {run / 'train.log'}; "
                "run again to resume from its last checkpoint"
            )
        (run / "done.json").write_text(json.dumps(summary, indent=1))

    # Each run is a main_ppo process tree of its own: threads only wait on them. Two at a time make more steps
    # an hour on 2 cores than one (a small model's generation leaves a core idle), at ~twice the memory.
    with ThreadPoolExecutor(parallel) as pool:
        for done in [pool.submit(train, *run) for run in pending]:
            done.result()
    runs = {}
    for arm, seed in every:
        run = folder(arm, seed)
        if (run / "result.json").exists():
            runs[(arm, seed)] = json.loads((run / "result.json").read_text())
        elif (run / "done.json").exists():
            result = run_result(run, arm, seed, samples, root)
            (run / "result.json").write_text(json.dumps(result, indent=1))
            runs[(arm, seed)] = result
            log(f"grpo {arm} seed {seed}: {result['steps']} steps, {result['train_s']:.0f} s in them")
    return runs


def run_result(run: Path, arm: str, seed: int, samples, root: Path) -> dict:
    """What the report needs of a finished run, small enough to carry to another machine (``--results``):
    verl's training metrics and the held-out metrics per step, and the time its steps took."""
    from moss_plugins.verl.smoke import step_metrics

    done = json.loads((run / "done.json").read_text())
    train = step_metrics((run / "train.log").read_text())  # a resumed run appends: every segment is there
    return {
        "arm": arm,
        "seed": seed,
        "steps": max(done["steps"], default=0),  # verl logs a step 0 (the validation before training)
        "train_s": round(sum(done["step_s"]), 1),
        "train": {step: {k: _float(m.get(k)) for k in TRAIN_KEYS} for step, m in sorted(train.items())},
        "heldout": heldout_curve(run, samples, root),
    }


def heldout_curve(run: Path, samples, root: Path) -> dict[int, dict]:
    """``{step: held-out metrics}`` from verl's validation generations (``val/<step>.jsonl``), matched to the
    test samples by their prompt text."""
    prompts = [(prompt_and_response(s, root)[0], s) for s in samples]
    curve = {}
    for path in sorted((run / "val").glob("*.jsonl"), key=lambda p: int(p.stem)):
        outputs, matched = [], []
        for line in path.read_text().splitlines():
            record = json.loads(line)
            sample = next((s for p, s in prompts if p in record["input"]), None)
            if sample is not None:
                outputs.append(record["output"])
                matched.append(sample)
        if matched:
            curve[int(path.stem)] = score(outputs, matched)
    return curve


# -------------------------------------------------------------------------------------------------------- report

TRAIN_KEYS = (
    "reward/score/mean",
    "reward/acc/mean",
    "reward/format/mean",
    "reward/process/mean",
    "reward/padding/mean",
    "reward/truncated/mean",
    "reward/groups/all_correct",
    "reward/groups/all_wrong",
    "response_length/mean",
    "actor/pg_loss",
    "actor/kl_loss",
    "timing_s/step",
)


def report(out: Path, plan: Plan, data: dict, sft_eval: dict, start_eval: dict) -> dict:
    summary = {
        "plan": dataclasses.asdict(plan),
        "data": data["counts"],
        "sft": sft_eval,
        "start": start_eval,
        "bind": json.loads((out / "bind" / "train.json").read_text()) if plan.bind_steps else None,
        "runs": {},
        "missing": [],
    }
    rows = []
    for arm in plan.arms:
        for seed in plan.seeds:
            name = f"{arm}-s{seed}"
            path = out / "grpo" / name / "result.json"
            if not path.exists():
                summary["missing"].append(name)
                continue
            result = json.loads(path.read_text())
            train, curve = _by_step(result["train"]), _by_step(result["heldout"])
            for step in sorted(set(train) | set(curve) | {0}):
                row = {"arm": arm, "seed": seed, "step": step}
                row.update({k: train.get(step, {}).get(k) for k in TRAIN_KEYS})
                row.update({f"heldout/{k}": curve.get(step, {}).get("all", {}).get(k) for k in HELDOUT})
                rows.append(row)
            if curve:
                first, last, last3 = min(curve), max(curve), sorted(curve)[-3:]
                summary["runs"][name] = {
                    "arm": arm,
                    "seed": seed,
                    "start_step": first,
                    "final_step": last,
                    "train_s": result["train_s"],
                    "start": curve[first],
                    "final": curve[last],
                    # one validation's accuracy has a standard error of ~0.03 at 250 samples: the last three
                    # validations' mean says the same with less noise
                    "final_accuracy_last3": sum(curve[s]["all"]["accuracy"] for s in last3) / len(last3),
                }
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["arm", "seed", "step"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(summary_markdown(summary, plan))
    curves(rows, plan, out / "curves.png")
    return summary


def _by_step(curve: dict) -> dict[int, dict]:
    """A per-step dict read back from JSON, whose keys are strings."""
    return {int(step): value for step, value in curve.items()}


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summary_markdown(summary: dict, plan: Plan) -> str:
    sft, first = summary["sft"]["all"], summary["start"]
    title = (
        f"# Learning: GRPO from a warm start ({len(plan.arms)} arm(s) x {len(plan.seeds)} seed(s), "
        f"{plan.steps} steps of {plan.batch} prompts x {plan.rollouts} rollouts, lr {plan.lr}, "
        f"rollout temperature {plan.temperature})"
    )
    start = (
        f"Held-out test: {sft['n']} samples from videos never in train, HF greedy. After SFT on traces: accuracy "
        f"{sft['accuracy']}, format {sft['format_rate']}, trace_accuracy {sft['trace_accuracy']}."
    )
    if summary.get("bind"):
        letters = ", ".join(
            f"{phase} {r['heldout_letter_accuracy']['before']} -> {r['heldout_letter_accuracy']['after']} "
            f"({r['steps']} steps"
            + (
                f", ended at letter accuracy {list(r['rl_letter_accuracy'].values())[-1]} on the RL prompts, "
                f"target {r['target']}"
                if r.get("rl_letter_accuracy")
                else ""
            )
            + ")"
            for phase, r in summary["bind"].items()
        )
        start += (
            f" After letter binding (the GRPO start; held-out letter accuracy per phase: {letters}): accuracy "
            f"{first['all']['accuracy']}, format {first['all']['format_rate']}, trace_accuracy "
            f"{first['all']['trace_accuracy']}."
        )
    names = {
        "format_rate": "format",
        "trace_dtw": "trace_dtw (default)",
        "trace_dtw_paper": "trace_dtw (paper)",
    }
    header = "| arm | seed | " + " | ".join(names.get(k, k) for k in HELDOUT) + " |"
    lines = [
        title,
        "",
        start,
        "",
        "Each cell: start -> final (held-out).",
        "",
        header,
        "|---" * (2 + len(HELDOUT)) + "|",
    ]

    def pair(run, key):
        a, b = run["start"]["all"].get(key), run["final"]["all"].get(key)
        return f"{_fmt(a)} -> {_fmt(b)}"

    for run in summary["runs"].values():
        lines.append(f"| {run['arm']} | {run['seed']} | " + " | ".join(pair(run, k) for k in HELDOUT) + " |")
    if summary["missing"]:
        lines += [
            "",
            f"Not run yet: {', '.join(summary['missing'])} (the sweep continues with --from-results).",
        ]
    by_arm = defaultdict(list)
    for run in summary["runs"].values():
        by_arm[run["arm"]].append(run)
    if by_arm:
        lines += ["", *spread_table(by_arm)]
    lines += [
        "",
        "Accuracy per task type at the GRPO start (HF greedy): "
        + ", ".join(
            f"{k.split('/', 1)[1]} {_fmt(v['accuracy'])} (n={v['n']})"
            for k, v in first.items()
            if k.startswith("task/")
        ),
    ]
    return "\n".join(lines) + "\n"


SPREAD = {  # column: what it reads from a run's summary
    "accuracy": lambda r: r["final"]["all"]["accuracy"],
    "change": lambda r: r["final"]["all"]["accuracy"] - r["start"]["all"]["accuracy"],
    "accuracy, last 3 validations": lambda r: r.get("final_accuracy_last3"),
    "trace_accuracy": lambda r: r["final"]["all"].get("trace_accuracy"),
    "answer_consistency": lambda r: r["final"]["all"].get("answer_consistency"),
    "trace_dtw (default)": lambda r: r["final"]["all"].get("trace_dtw"),
    "trace_dtw (paper)": lambda r: r["final"]["all"].get("trace_dtw_paper"),
}


def spread_table(by_arm: dict[str, list[dict]]) -> list[str]:
    """Per arm, each final held-out metric as mean [min, max] over its seeds: what an arm learns, with how much
    of it the seed decides."""
    lines = [
        "Final held-out metrics per arm: mean [min, max] over seeds (change: accuracy's, from the start).",
        "",
        "| arm | seeds | " + " | ".join(SPREAD) + " |",
        "|---" * (2 + len(SPREAD)) + "|",
    ]
    for arm, runs in by_arm.items():
        cells = []
        for column, read in SPREAD.items():
            values = [v for v in map(read, runs) if v is not None]
            f = "{:+.3f}" if column == "change" else "{:.3f}"
            cells.append(
                f"{f.format(sum(values) / len(values))} [{f.format(min(values))}, {f.format(max(values))}]"
                if values
                else "-"
            )
        lines.append(f"| {arm} | {len(runs)} | " + " | ".join(cells) + " |")
    return lines


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def curves(rows: list[dict], plan: Plan, path: Path) -> None:
    """Training rollouts' reward, process reward and accuracy (top) and held-out accuracy, ``trace_accuracy`` and
    ``trace_dtw`` (bottom) against step, per arm: mean over seeds, min-max band; a training step's 64 rollouts
    are noisy, so the top row is a running mean over 10 steps. The bottom row is where an outcome-only arm and
    the process arms can differ: in the answer or in the trace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("reward/score/mean", "training reward (its own arm's), mean of 10 steps"),
        ("reward/process/mean", "training process reward T(D), mean of 10 steps"),
        ("reward/acc/mean", "training accuracy, mean of 10 steps"),
        ("heldout/accuracy", "held-out accuracy"),
        ("heldout/trace_accuracy", "held-out trace_accuracy (trace concludes right)"),
        ("heldout/trace_dtw", "held-out trace_dtw (default)"),
    )
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.2))
    for ax, (key, title) in zip(axes.flat, panels):
        for arm in plan.arms:
            by_step = defaultdict(list)
            for row in rows:
                if row["arm"] == arm and row.get(key) is not None:
                    by_step[row["step"]].append(row[key])
            if not by_step:
                continue
            steps = sorted(by_step)
            mean, low, high = (
                [agg(by_step[s]) for s in steps] for agg in (lambda v: sum(v) / len(v), min, max)
            )
            training = key.startswith("reward/")
            if training:
                mean, low, high = (_running_mean(y, 10) for y in (mean, low, high))
            (line,) = ax.plot(steps, mean, marker=None if training else "o", ms=3, label=arm)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _running_mean(values: list[float], window: int) -> list[float]:
    """Each value averaged with up to ``window - 1`` before it."""
    windows = (values[max(0, i - window + 1) : i + 1] for i in range(len(values)))
    return [sum(w) / len(w) for w in windows]


# ----------------------------------------------------------------------------------------------------- carry over

# What --results keeps of a run folder (its name there: its path in --out): the report, the plan and the stage
# records. With the GRPO start (start/) and each finished run's result (runs/<arm>-s<seed>.json), it is what
# --from-results needs to continue the sweep on another machine, without the data, the SFT or the checkpoints.
CARRIED = {
    "plan.json": "plan.json",
    "timings.json": "timings.json",
    "metrics.csv": "metrics.csv",
    "curves.png": "curves.png",
    "summary.json": "summary.json",
    "summary.md": "summary.md",
    "sft_train.json": "sft/train.json",
    "bind_train.json": "bind/train.json",
}
STAGE_RECORDS = [name for name, path in CARRIED.items() if "/" in path]  # what --from-results puts back


def plan_differences(theirs: dict, plan: Plan) -> str:
    """What a sweep's ``plan.json`` (``theirs``) and ``plan`` differ in, but for the arms and seeds ("": none):
    the runs of one sweep may be shared out between machines, nothing else may differ."""
    ours = json.loads(json.dumps(dataclasses.asdict(plan)))  # tuples as JSON lists, as in plan.json
    return ", ".join(
        f"{k} ({theirs.get(k)} there, {ours[k]} here)"
        for k in ours
        if k not in ("arms", "seeds") and ours[k] != theirs.get(k)
    )


def publish(out: Path, dest: Path, data: dict, start_dir: Path) -> None:
    """Copy the report, the GRPO start and the finished runs' results to ``dest``. What is there already of the
    start and the runs is kept: a run's result never changes once written."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in CARRIED.items():
        if (out / path).exists():
            shutil.copy2(out / path, dest / name)
    (dest / "data.json").write_text(
        json.dumps({k: data[k] for k in ("sha256", "counts", "videos")}, indent=1) + "\n"
    )
    if not (dest / "start" / "config.json").exists():
        shutil.copytree(start_dir, dest / "start", dirs_exist_ok=True)
    (dest / "runs").mkdir(exist_ok=True)
    for result in sorted(out.glob("grpo/*/result.json")):
        if not (dest / "runs" / f"{result.parent.name}.json").exists():
            shutil.copy2(result, dest / "runs" / f"{result.parent.name}.json")
    log(
        f"results: {dest} ({len(list((dest / 'runs').glob('*.json')))} finished runs, the GRPO start in start/)"
    )


def adopt(source: Path, out: Path, plan: Plan, data: dict, timings: dict) -> tuple[Path, dict, dict]:
    """Take up the sweep a ``--results`` folder holds: its GRPO start, stage records and finished runs, once its
    plan (all but the arms and seeds) and its data are this invocation's. Returns the start and its
    evaluations (after SFT, at the GRPO start)."""

    def fail(what: str):
        raise SystemExit(f"--from-results {source}: {what}")

    try:
        theirs = json.loads((source / "plan.json").read_text())
        carried = json.loads((source / "data.json").read_text())
        summary = json.loads((source / "summary.json").read_text())
    except (OSError, ValueError) as e:
        fail(f"not a folder --results wrote ({e})")
    differ = plan_differences(theirs, plan)
    if differ:
        fail(f"its plan differs in {differ}; give its options, or start a new sweep without --from-results")
    if carried.get("sha256") != data["sha256"]:
        fail(f"its data is not the data made here (sha256 {carried.get('sha256')} there); pass its --seed")
    if not (source / "start" / "config.json").exists():
        fail("start/ (the GRPO start) is missing")
    start = out / "start"
    if not (start / "config.json").exists():
        shutil.copytree(source / "start", start, dirs_exist_ok=True)
    for name in STAGE_RECORDS:
        if (source / name).exists() and not (out / CARRIED[name]).exists():
            (out / CARRIED[name]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, out / CARRIED[name])
    for result in sorted((source / "runs").glob("*.json")):
        run = out / "grpo" / result.stem
        if not (run / "result.json").exists():
            run.mkdir(parents=True, exist_ok=True)
            shutil.copy2(result, run / "result.json")
    if (source / "timings.json").exists():
        for stage, seconds in json.loads((source / "timings.json").read_text()).items():
            timings.setdefault(stage, seconds)
    log(f"from {source}: the GRPO start and {len(list(out.glob('grpo/*/result.json')))} finished runs")
    return start, summary["sft"], summary["start"]


# ------------------------------------------------------------------------------------------------------------ cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (a run there continues)")
    parser.add_argument("--tiny", action="store_true", help="every stage at toy size (minutes)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--rollout",
        choices=("hf_generate", "vllm"),
        default=None,
        help="verl rollout (default: hf_generate on cpu, vllm on cuda)",
    )
    parser.add_argument("--seed", type=int, default=0, help="data and model seed")
    parser.add_argument("--stop-after", choices=("data", "model", "sft", "bind", "grpo"), default=None)
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="after the report, copy it with the GRPO start and the finished runs' results here",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        help="continue the sweep in a --results folder (e.g. benchmarks/results/learning): its GRPO start and "
        "finished runs instead of the model, SFT and bind stages",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="GRPO runs at a time (2 on 2 CPU cores: ~1.4x the steps an hour, ~20 GB of memory)",
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="start at most this many GRPO runs (0: report what is finished); keep --arms/--seeds the whole sweep",
    )
    for field in dataclasses.fields(Plan):
        kind = type(field.default) if not isinstance(field.default, tuple) else None
        flag = "--" + field.name.replace("_", "-")
        if field.name in ("arms", "tasks", "scenes", "bind_anchored"):
            parser.add_argument(flag, nargs="*", default=None)
        elif field.name in ("seeds", "bind_steps", "bind_orders"):
            parser.add_argument(flag, nargs="*", type=int, default=None)
        else:
            parser.add_argument(flag, type=kind, default=None)
    return parser.parse_args(argv)


def make_plan(args) -> Plan:
    values = dict(TINY) if args.tiny else {}
    for field in dataclasses.fields(Plan):
        given = getattr(args, field.name)
        if given is not None:
            values[field.name] = tuple(given) if isinstance(given, list) else given
    plan = Plan(**values)
    if args.parallel < 1:
        raise SystemExit(f"--parallel: at least 1 run at a time (got {args.parallel})")
    unknown = set(plan.arms) - set(ARMS)
    if unknown:
        raise SystemExit(f"--arms: unknown {sorted(unknown)}; known: {list(ARMS)}")
    phases = len(BIND_PHASES)
    if (
        len(plan.bind_steps) > phases
        or len(plan.bind_orders) != phases
        or not set(plan.bind_anchored) <= set(BIND_PHASES)
    ):
        raise SystemExit(
            f"--bind-steps: at most {phases} numbers, --bind-orders: {phases}, one per phase of {list(BIND_PHASES)}; "
            f"--bind-anchored: names among them (got {list(plan.bind_steps)}, {list(plan.bind_orders)}, "
            f"{list(plan.bind_anchored)})"
        )
    return plan


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    out = args.out.resolve()
    if args.results and (args.results / "plan.json").exists():  # checked now, not after hours of training
        differ = plan_differences(json.loads((args.results / "plan.json").read_text()), plan)
        if differ:
            raise SystemExit(
                f"--results {args.results}: holds another sweep, whose plan differs in {differ}; give another "
                "folder or move that one away (its start and runs would be kept beside this sweep's report)"
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(dataclasses.asdict(plan), indent=1))
    timings = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}

    def stage(name, fn, *a):
        start = time.time()
        log(f"stage {name}")
        result = fn(*a)
        timings.setdefault(name, round(time.time() - start, 1))
        (out / "timings.json").write_text(json.dumps(timings, indent=1))
        return result

    data = stage("data", build_data, out, plan, args.seed)
    log(f"data: {data['counts']} samples, {data['videos']} videos")
    if args.stop_after == "data":
        return 0
    if args.from_results:
        start_dir, sft_eval, start_eval = adopt(args.from_results.resolve(), out, plan, data, timings)
        if args.stop_after in ("model", "sft", "bind"):
            return 0
    else:
        model_dir = stage("model", build_model, out, plan, data, args.seed)
        if args.stop_after == "model":
            return 0
        sft_dir = stage("sft", run_sft, out, plan, data, model_dir, args.seed, args.device)
        sft_eval = stage("sft_eval", evaluate, out / "sft", plan, data, sft_dir, args.device)
        log(f"sft: held-out {json.dumps(sft_eval['all'])}; answers {sft_eval['answers']}")
        if args.stop_after == "sft":
            return 0
        start_dir = stage("bind", run_bind, out, plan, data, sft_dir, args.seed, args.device)
        start_eval = sft_eval
        if plan.bind_steps:
            start_eval = stage("bind_eval", evaluate, out / "bind", plan, data, start_dir, args.device)
            log(f"bind: held-out {json.dumps(start_eval['all'])}; answers {start_eval['answers']}")
        if args.stop_after == "bind":
            return 0
    rollout = args.rollout or ("hf_generate" if args.device == "cpu" else "vllm")
    runs = stage(
        "grpo", run_grpo, out, plan, data, start_dir, args.device, rollout, args.max_runs, args.parallel
    )
    timings["grpo"] = round(sum(r["train_s"] for r in runs.values()), 1)  # every run, over all its segments
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    if args.stop_after == "grpo":
        return 0
    summary = stage("report", report, out, plan, data, sft_eval, start_eval)
    log(f"wrote {out / 'metrics.csv'}, curves.png, summary.json, summary.md ({len(summary['runs'])} runs)")
    if args.results:
        publish(out, args.results.resolve(), data, start_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
