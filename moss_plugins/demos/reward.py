"""Demo stage: score the bundled example traces and show what each reward component does."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..reward.config import RewardConfig
from ..reward.score import compute_score
from ..testing.examples import load_examples


def run(console) -> None:
    config = RewardConfig()
    console.print(
        f"score = {config.acc_weight} acc + {config.format_weight} format + {config.process_weight} process "
        f"- {config.padding_weight} padding   (alpha={config.alpha}, similarity={config.similarity}, "
        f"alignment={config.alignment}, padding tolerance={config.padding_tolerance}, gate_process={config.gate_process})"
    )
    for example in load_examples():
        table = Table(
            title=f"{example['id']}: {example['question']}", title_justify="left", box=box.SIMPLE_HEAD
        )
        for col in (
            "#",
            "candidate",
            "score",
            "acc",
            "fmt",
            "proc",
            "D",
            "pad",
            "paper proc",
            "steps",
            "reason",
        ):
            table.add_column(col, justify="left" if col in ("candidate", "reason") else "right")
        for k, cand in enumerate(example["candidates"], 1):
            r = compute_score("moss_video", cand["output"], example["ground_truth"])
            paper = compute_score("moss_video", cand["output"], example["ground_truth"], preset="paper")
            table.add_row(
                str(k),
                cand["label"],
                f"{r['score']:.3f}",
                f"{r['acc']:.0f}",
                f"{r['format']:.0f}",
                f"{r['process']:.2f}",
                f"{r['dtw_normalized']:.2f}",
                f"{r['padding']:.2f}",
                f"{paper['process']:.2f}",
                f"{r['n_pred_steps']}/{r['n_ref_steps']}",
                r["reason"].replace(",", " "),
            )
        console.print(table)
        for k, cand in enumerate(example["candidates"], 1):
            console.print(f"  [dim]{k:>2}. {cand['note']}")
    console.print(
        "[dim]proc = T(D), D = alignment distance / reference steps; pad = padding penalty; paper proc = the "
        "process reward with preset=paper (ROUGE, subsequence DTW); steps = predicted/reference"
    )
