"""Demo stage ``data``: load and validate the bundled mini split, show its statistics, and check that the reward
tells each sample's own reference trace from a deliberately wrong one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ..output_format import LETTERS, format_response
from ..sample import TASK_TYPES, Sample

STATS_PNG = Path("outputs") / "moss-video-mini-stats.png"


def wrong_response(sample: Sample, pool: list[Sample]) -> str:
    """A plausible but wrong response: the reference trace of another video of the same scene kind and task
    type (right format, wrong evidence), and a wrong letter."""
    kind = sample.meta.get("scene")
    others = [x for x in pool if x.video != sample.video and x.task_type == sample.task_type]
    donor = next((x for x in others if x.meta.get("scene") == kind), others[0])
    wrong = LETTERS[(LETTERS.index(sample.answer) + 1) % len(sample.options)]
    return format_response([step.text for step in donor.trace], wrong)


def run(console) -> None:
    from rich.table import Table

    from ..data import mini_split_dir
    from ..data.io import load_samples
    from ..data.stats import plot_stats, print_stats, video_durations
    from ..reward import score_batch

    root = mini_split_dir()
    report = load_samples(root)  # validates every row; a bad one stops here with its file, line and field
    samples = report.samples
    console.print(
        f"bundled mini split [bold]{root}[/]: {report.summary()}, every row valid; "
        f"regenerate with `moss data synth --n 24 --seed 0 --split-ratio 0.5:0:0.5 --out DIR`"
    )
    print_stats(console, samples)
    png = plot_stats(samples, video_durations(samples, root, progress=False), STATS_PNG, "bundled mini split")
    console.print(f"histograms: {png}")

    truths = [s.ground_truth() for s in samples]
    references = [format_response([step.text for step in s.trace], s.answer) for s in samples]
    wrongs = [wrong_response(s, samples) for s in samples]
    right, wrong = score_batch(references, truths), score_batch(wrongs, truths)
    by_task = defaultdict(list)
    for s, r, w in zip(samples, right, wrong):
        by_task[s.task_type].append((r, w))
    table = Table(
        title="reward of each sample's own reference trace vs. a wrong one (another video's trace of "
        "the same scene kind and task, wrong letter)",
        title_justify="left",
    )
    for col in (
        "task type",
        "samples",
        "reference score (min)",
        "wrong score (max)",
        "reference process",
        "wrong process",
        "reference > wrong",
    ):
        table.add_column(col, justify="left" if col == "task type" else "right")
    for task in TASK_TYPES:
        pairs = by_task.get(task, [])
        if not pairs:
            continue
        rs, ws = [p[0] for p in pairs], [p[1] for p in pairs]
        table.add_row(
            task,
            str(len(pairs)),
            f"{_mean(rs, 'score'):.3f} ({min(r['score'] for r in rs):.3f})",
            f"{_mean(ws, 'score'):.3f} ({max(w['score'] for w in ws):.3f})",
            f"{_mean(rs, 'process'):.3f}",
            f"{_mean(ws, 'process'):.3f}",
            f"{sum(r['score'] > w['score'] for r, w in pairs)}/{len(pairs)}",
        )
    console.print(table)
    separated = sum(r["score"] > w["score"] for r, w in zip(right, wrong))
    console.print(
        f"the reward ranks the reference above the wrong trace for {separated}/{len(samples)} samples; "
        f"mean score {_mean(right, 'score'):.3f} vs {_mean(wrong, 'score'):.3f}"
    )

    s = samples[0]
    console.print(f"\n[bold]example[/] {s.id} (cut at {s.observed_until} s): {s.question}")
    for letter, option in zip(LETTERS, s.options):
        console.print(f"  {letter}. {option}{'  <- answer' if letter == s.answer else ''}")
    for label, response, result in (("reference", references[0], right[0]), ("wrong", wrongs[0], wrong[0])):
        console.print(
            f"[bold]{label}[/] score {result['score']:.3f} (acc {result['acc']:.0f}, process "
            f"{result['process']:.3f}):\n[dim]{response}[/]"
        )


def _mean(results: list[dict], key: str) -> float:
    return sum(r[key] for r in results) / len(results)
