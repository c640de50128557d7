"""``moss data stats DIR``: counts per split, task type and answer letter as tables, and a PNG of histograms
(trace length, video and observed duration, task types, answer letters)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..sample import SPLITS, TASK_TYPES, Sample


def _splits(samples: list[Sample]) -> list[str]:
    return [s for s in SPLITS if any(x.split == s for x in samples)]


def count_table(samples: list[Sample], title: str, key, rows: list[str] | None = None):
    """A rich Table: one row per value of ``key(sample)``, one column per split (count and share)."""
    from rich.table import Table

    splits = _splits(samples)
    counts = {s: Counter(key(x) for x in samples if x.split == s) for s in splits}
    rows = rows or sorted({key(x) for x in samples})
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for s in splits:
        table.add_column(s, justify="right")
    for row in rows:
        cells = []
        for s in splits:
            total = sum(counts[s].values())
            cells.append(f"{counts[s][row]} ({100 * counts[s][row] / total:.0f}%)" if total else "0")
        table.add_row(row, *cells)
    return table


def print_stats(console, samples: list[Sample]) -> None:
    from rich.table import Table

    splits = _splits(samples)
    overview = Table(title="samples per split", title_justify="left")
    for col in ("split", "samples", "videos", "trace steps (mean)", "observed until (mean s)"):
        overview.add_column(col, justify="left" if col == "split" else "right")
    for s in splits:
        xs = [x for x in samples if x.split == s]
        overview.add_row(
            s,
            str(len(xs)),
            str(len({x.video for x in xs})),
            f"{sum(len(x.trace) for x in xs) / len(xs):.1f}",
            f"{sum(x.observed_until for x in xs) / len(xs):.2f}",
        )
    console.print(overview)
    console.print(
        count_table(
            samples,
            "task types",
            lambda x: x.task_type,
            [t for t in TASK_TYPES if any(x.task_type == t for x in samples)],
        )
    )
    console.print(count_table(samples, "answer letters", lambda x: x.answer))
    kinds = {x.meta.get("scene") for x in samples}
    if kinds != {None}:
        console.print(count_table(samples, "scene kinds", lambda x: str(x.meta.get("scene", "-"))))
    else:
        console.print(count_table(samples, "sources", lambda x: x.source))


def video_durations(samples: list[Sample], media_root: Path, progress: bool = True) -> dict[str, float]:
    """When each video ends, on the clock of ``observed_until`` (the container's; for a video starting at 0 s
    its duration): ``meta.duration`` when the sample has it, else probed from the file (no decoding)."""
    from tqdm.auto import tqdm

    from .clips import probe_video
    from .paths import confined

    out: dict[str, float] = {}
    for x in samples:
        if isinstance(x.meta.get("duration"), (int, float)):
            out.setdefault(x.video, float(x.meta["duration"]))
    missing = sorted({x.video for x in samples} - set(out))
    for video in tqdm(
        missing, desc="reading video durations", unit="video", disable=not progress or not missing
    ):
        out[video] = probe_video(confined(media_root, video, "video")).end
    return out


def plot_stats(samples: list[Sample], durations: dict[str, float], path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    splits = _splits(samples)
    colors = dict(zip(SPLITS, ("#4C72B0", "#DD8452", "#55A868")))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    lengths = [len(x.trace) for x in samples]
    bins = np.arange(min(lengths), max(lengths) + 2) - 0.5
    ax.hist(
        [[len(x.trace) for x in samples if x.split == s] for s in splits],
        bins=bins,
        stacked=True,
        label=splits,
        color=[colors[s] for s in splits],
    )
    ax.set(title="reference trace length", xlabel="steps", ylabel="samples")
    ax.legend()
    ax = axes[0, 1]
    video_lengths = list(durations.values())
    observed = [x.observed_until for x in samples]
    top = max(video_lengths + observed)
    bins = np.linspace(0, top * 1.02, 25)
    ax.hist(
        video_lengths, bins=bins, alpha=0.6, label=f"video end ({len(video_lengths)} videos)", color="#8172B3"
    )
    ax.hist(
        observed,
        bins=bins,
        alpha=0.6,
        label=f"observed until, the cut ({len(observed)} samples)",
        color="#C44E52",
    )
    ax.set(title="durations", xlabel="seconds", ylabel="count")
    ax.legend()
    for ax, key, name, order in (
        (axes[1, 0], "task_type", "task types", list(TASK_TYPES)),
        (axes[1, 1], "answer", "answer letters", None),
    ):
        labels = [
            v
            for v in (order or sorted({getattr(x, key) for x in samples}))
            if any(getattr(x, key) == v for x in samples)
        ]
        bottom = np.zeros(len(labels))
        for s in splits:
            c = Counter(getattr(x, key) for x in samples if x.split == s)
            heights = np.array([c[v] for v in labels], dtype=float)
            ax.bar(labels, heights, bottom=bottom, label=s, color=colors[s])
            bottom += heights
        ax.set(title=name, ylabel="samples")
        ax.tick_params(axis="x", rotation=20 if key == "task_type" else 0)
        ax.legend()
    fig.suptitle(title or f"{len(samples)} MOSS-Video samples")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    from .io import load_samples, media_root

    console = Console(soft_wrap=True)
    source = Path(args.path)
    report = load_samples(source, skip_invalid=args.skip_invalid)
    console.print(f"{source}: {report.summary()}", markup=False)
    for message in report.first_errors:
        console.print(f"  [yellow]skipped[/] {escape(message)}")
    if not report.samples:
        console.print("[red]no samples")
        return 1
    print_stats(console, report.samples)
    png = Path(args.png) if args.png else Path("outputs") / f"{source.resolve().name or 'data'}-stats.png"
    plot_stats(
        report.samples,
        video_durations(report.samples, media_root(source)),
        png,
        f"{source}: {len(report.samples)} samples",
    )
    console.print(f"[green]wrote[/] {escape(str(png))}")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("stats", help="counts per split, task type and answer letter, and a PNG of histograms")
    p.add_argument("path", metavar="DIR", help="a MOSS-Video folder (or one JSONL/parquet file)")
    p.add_argument("--png", help="where to write the histograms (default: outputs/<folder name>-stats.png)")
    p.add_argument(
        "--skip-invalid", action="store_true", help="skip invalid rows (counted) instead of stopping"
    )
    p.set_defaults(func=run)
