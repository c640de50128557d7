"""Shared fixtures for tests/data: small videos written with PyAV, so no test needs a download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def write_video(
    path: Path,
    n: int,
    fps: int,
    size=(64, 48),
    color_of: Callable[[int], tuple] | None = None,
    codec: str = "libx264",
    options: dict | None = None,
) -> Path:
    """``n`` flat frames; frame k is ``color_of(k)`` (default: grey level 20 + 2k, so a frame's index can be
    read back from its pixels)."""
    import av

    color_of = color_of or (lambda k: (20 + 2 * k,) * 3)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if options:
            stream.options = options
        for k in range(n):
            frame = np.empty((size[1], size[0], 3), np.uint8)
            frame[...] = color_of(k)
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = k
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def video_writer() -> Callable[..., Path]:
    """``write_video(path, n, fps, ...)``, for fixtures that make their own folders."""
    return write_video


@pytest.fixture
def video_factory(tmp_path) -> Callable[..., Path]:
    """``make(n=..., fps=..., ...)`` -> a new video in this test's tmp_path."""
    counter = iter(range(10**6))

    def make(**kwargs) -> Path:
        return write_video(tmp_path / f"clip{next(counter)}.mp4", **kwargs)

    return make
