"""The evaluation clip (:func:`moss_plugins.data.clips.cut_observed`, what lmms-eval's models read) holds exactly
the frames training's loader keeps at the same cut (``load_frames(..., until=cut)``): the same timestamps, and the
same pixels where the packets are copied (close ones where the clip had to be re-encoded). Sources: x264 with
B-frames enabled (an encoder delay), a stream whose first frame is at 2 s, variable frame rate, and ProRes and
FFV1, which the .mp4 muxer refuses with a plain ValueError."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.data.clips import cut_observed
from moss_plugins.data.video import load_frames

av = pytest.importorskip("av")
TIME_BASE = Fraction(1, 12800)


def write(
    path: Path,
    pts_seconds: list[float],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict | None = None,
) -> Path:
    """One frame at each time; frame k is grey 8 + 6k with a little noise (frames differ, compress like footage)."""
    rng = np.random.default_rng(len(pts_seconds))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        stream.time_base = stream.codec_context.time_base = TIME_BASE
        stream.options = options or {}
        for k, t in enumerate(pts_seconds):
            image = np.clip((8 + 6 * k) % 250 + rng.integers(-3, 4, (48, 64, 3)), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(t * 12800), TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


SOURCES = {
    "b-frames": lambda d: write(d / "b.mp4", [k * 0.04 for k in range(60)], options={"bf": "3", "g": "12"}),
    "starts-at-2s": lambda d: write(d / "late.mp4", [2 + k * 0.04 for k in range(60)], options={"bf": "2"}),
    "vfr": lambda d: write(d / "vfr.mp4", list(np.cumsum([0.0] + [0.02, 0.06, 0.04] * 20)[:60])),
    "prores": lambda d: write(d / "p.mov", [k * 0.04 for k in range(30)], "prores_ks", "yuv422p10le"),
    "ffv1": lambda d: write(d / "f.mkv", [k * 0.04 for k in range(30)], "ffv1"),
}


def frames_by_time(loaded) -> dict[float, np.ndarray]:
    return {float(t): f for f, t in zip(loaded.frames, loaded.timestamps)}


@pytest.mark.parametrize("source", SOURCES)
def test_the_eval_clip_holds_every_frame_training_keeps(tmp_path, source):
    src = SOURCES[source](tmp_path)
    start = 2.0 if source == "starts-at-2s" else 0.0
    for k, cut in enumerate(start + np.array([0.10, 0.33, 0.62, 0.81])):
        cut = round(float(cut), 6)
        training = frames_by_time(load_frames(src, nframes=500, until=cut, backend="pyav"))
        how, _ = cut_observed(src, cut, tmp_path / f"clip{k}.mp4")
        clip = frames_by_time(load_frames(tmp_path / f"clip{k}.mp4", nframes=500, backend="pyav"))
        assert sorted(clip) == sorted(training), (
            f"cut {cut} ({how}): clip {sorted(clip)[-2:]} vs {sorted(training)[-2:]}"
        )
        for t, frame in training.items():
            diff = np.abs(clip[t].astype(int) - frame.astype(int)).mean()
            assert diff == 0 if how == "copied" else diff < 4, (
                f"cut {cut} ({how}), frame at {t}: mean |diff| {diff}"
            )
