"""Drawing in frame-relative coordinates (PIL, no anti-aliasing) and writing frames to mp4 (PyAV)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .constants import BACKGROUND, CODECS


class Canvas:
    """One frame; x and y are fractions of the width and height, r of min(width, height)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.width), round(y * self.height)

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, fill=None, outline=None, width: int = 1
    ) -> None:
        (a, b), (c, d) = self.px(x0, y0), self.px(x1, y1)
        if c > a and d > b:  # less than a pixel (a tank with a trace of liquid) draws nothing
            self.draw.rectangle([a, b, c - 1, d - 1], fill=fill, outline=outline, width=width)

    def disc(self, x: float, y: float, r: float, fill) -> None:
        cx, cy = self.px(x, y)
        rp = r * min(self.width, self.height)
        self.draw.ellipse([round(cx - rp), round(cy - rp), round(cx + rp) - 1, round(cy + rp) - 1], fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill) -> None:
        self.draw.polygon([self.px(x, y) for x, y in points], fill=fill)

    def array(self) -> np.ndarray:
        return np.asarray(self.image, dtype=np.uint8)


@functools.cache
def video_codec() -> str:
    """The first codec of CODECS this PyAV build can encode (H.264 when it can)."""
    import av

    for name in CODECS:
        try:
            av.codec.Codec(name, "w")
            return name
        except ValueError:  # UnknownCodecError
            continue
    raise RuntimeError(f"this PyAV build can encode none of {CODECS}; install a PyAV wheel with libx264")


def encode_reproducibly(stream, codec: str, **x264: str) -> None:
    """Make ``stream`` (a PyAV output stream of ``codec``) give the same bytes for the same frames: one thread and,
    for x264 (``x264`` are its options), no macroblock-tree rate control, which otherwise varied from run to run
    even on one thread (and a clip cut on a Ray node differed from one cut in process)."""
    stream.thread_count = 1
    if codec == "libx264":
        stream.options = {**x264, "x264-params": "mbtree=0"}


def write_mp4(frames: np.ndarray, path: Path, fps: int) -> None:
    """Encode RGB frames [T, H, W, 3] at high quality and reproducibly: the same frames give the same bytes."""
    import av

    codec = video_codec()
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        encode_reproducibly(stream, codec, crf="18", preset="medium")
        if codec != "libx264":
            stream.bit_rate = 2_000_000
        for k, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = k  # frame k is shown at k / fps seconds (the time base is 1 / fps)
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
