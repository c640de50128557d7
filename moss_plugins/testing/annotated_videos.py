"""Small annotated videos to try ``moss data build`` on: ``STORIES`` (captions of four everyday scenes) and
:func:`write_annotated_videos`, used by the builder's demo stage, its tests and its benchmark.

The videos are flat colour fields that change at every segment boundary (a few KB each); what matters here is
the annotation layout next to them, the same one a user writes for real videos.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

STORIES = {
    "kettle": [
        "A steel kettle sits on a cold stove.",
        "A hand turns the burner on under the kettle.",
        "Thin steam starts to rise from the spout.",
        "The kettle whistles and shakes on the flame.",
        "The burner is switched off and the whistling stops.",
        "Hot water is poured from the kettle into a mug.",
    ],
    "crossing": [
        "The traffic light shows green and cars drive through the crossing.",
        "The light turns yellow and the cars slow down.",
        "The light turns red and the cars stop at the line.",
        "Pedestrians walk across the street.",
        "The light turns green again and the cars move off.",
    ],
    "garden": [
        "An empty clay pot stands on a sunny window sill.",
        "Someone fills the pot with dark soil.",
        "A seed is pressed into the soil and watered.",
        "A small green sprout pushes out of the soil.",
        "The sprout grows two leaves and leans towards the light.",
    ],
    "parcel": [
        "A closed cardboard box lies on a table.",
        "Scissors cut the tape along the top of the box.",
        "The flaps are opened and paper padding is pulled out.",
        "A blue ceramic vase is lifted out of the box.",
        "The vase is set on a shelf and filled with flowers.",
    ],
}


def write_annotated_videos(
    folder: str | Path,
    captions: Sequence[Sequence[str]],
    names: Sequence[str] | None = None,
    seconds_per_segment: float = 1.0,
    fps: int = 8,
    size: int = 32,
) -> Path:
    """Write one video per caption list (one segment per caption) and ``annotations.jsonl`` in the segments
    layout beside them; returns the annotation file."""
    from ..data.synth.render import write_mp4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(names) if names is not None else [f"v{i}" for i in range(len(captions))]
    per_segment = round(seconds_per_segment * fps)
    rows = []
    for i, (name, caps) in enumerate(zip(names, captions)):
        shades = [(37 * (i + 1) + 53 * k) % 256 for k in range(len(caps))]
        frames = np.repeat(np.array(shades, np.uint8), per_segment)[:, None, None, None]
        write_mp4(np.broadcast_to(frames, (len(frames), size, size, 3)).copy(), folder / f"{name}.mp4", fps)
        spans = [[k * seconds_per_segment, (k + 1) * seconds_per_segment] for k in range(len(caps))]
        rows.append(
            {"video": f"{name}.mp4", "segments": [{"t": t, "caption": c} for t, c in zip(spans, caps)]}
        )
    path = folder / "annotations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
