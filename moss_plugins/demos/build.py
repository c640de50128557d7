"""The builder's ``moss demo`` stage: build samples from small annotated example videos
(:mod:`moss_plugins.testing.annotated_videos`) and score their reference traces."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..testing.annotated_videos import STORIES, write_annotated_videos


def demo(console) -> None:
    """Build from the example stories, show one sample per task type, and score its reference trace."""
    from rich.table import Table

    from ..data.annotations import read_annotations
    from ..data.build import BuildConfig, build_dataset
    from ..output_format import build_prompt, format_response
    from ..reward import compute_score

    with tempfile.TemporaryDirectory() as tmp:
        src = write_annotated_videos(Path(tmp) / "src", list(STORIES.values()), list(STORIES))
        console.print(
            f"annotations (segments layout): {len(STORIES)} videos, e.g. {src.read_text().splitlines()[0][:110]}..."
        )
        report = build_dataset(
            read_annotations(src), Path(tmp) / "out", BuildConfig(seed=0, test_fraction=0.25)
        )
        samples = report.written
    console.print(
        f"built {sum(report.samples.values())} samples ({dict(report.samples)}; task types "
        f"{dict(report.tasks)}; answer letters {dict(sorted(report.letters.items()))})"
    )
    shown = {}
    for s in sorted(samples, key=lambda s: -s.meta["cut_segment"]):  # the longest observed part per task type
        shown.setdefault(s.task_type, s)
    for task, s in shown.items():
        console.print(
            f"\n[bold]{task}[/] ({s.id}, sees 0-{s.observed_until:g} s of {s.video}; answer {s.answer})"
        )
        console.print(build_prompt(s.question, s.options), highlight=False)
        table = Table("t (s)", "reference step", title="reference trace", title_justify="left")
        for step in s.trace:
            table.add_row(f"{step.t[0]:g}-{step.t[1]:g}", step.text)
        console.print(table)
        for label, steps in (
            ("the reference trace", s.trace),
            ("the right letter after only the last step", s.trace[-1:]),
        ):
            r = compute_score(
                "moss_video", format_response([step.text for step in steps], s.answer), s.ground_truth()
            )
            console.print(
                f"  as a rollout, {label} scores {r['score']:.3f} (acc {r['acc']:.0f}, process {r['process']:.3f})"
            )
