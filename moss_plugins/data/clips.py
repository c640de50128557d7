"""Probing a video and physically cutting it at ``observed_until`` (PyAV), streaming frame by frame.

A clip cut here holds only frames whose timestamp is strictly before the cut, so that a loader other than ours
(a framework's own video reader that ignores ``observed_until``) cannot show the model the masked future.
Frames keep their original timestamps, so times in a clip mean the same as in the source video.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .paths import atomic_path


class ClipError(RuntimeError):
    """A video that cannot be opened, probed or cut; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds
    fps: float
    width: int
    height: int


def probe_video(path: str | Path) -> VideoInfo:
    """Duration and geometry from the container, falling back to the last packet's timestamp (no decoding)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            duration = _duration(container, stream, path)
            return VideoInfo(duration, fps, stream.codec_context.width, stream.codec_context.height)
    except av.FFmpegError as e:
        raise ClipError(f"{path}: cannot read the video ({e})") from None


def _duration(container, stream, path) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    last = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    if last <= 0:
        raise ClipError(f"{path}: neither the container nor its packets say how long the video is")
    return last


def cut_clips(src: str | Path, cuts: Mapping[float, str | Path], codec: str | None = None) -> dict[float, int]:
    """Write, for each ``cut -> dst``, the frames of ``src`` with timestamp < cut; one decoding pass for all.

    Returns the number of frames written per cut. ``codec``: by default the one the synthetic videos use
    (H.264 when this PyAV build has it). Odd frame sizes are cropped to even (yuv420p needs it).
    """
    import av

    from .synth.render import video_codec

    codec = codec or video_codec()

    cuts = {float(c): Path(p) for c, p in cuts.items()}
    written = dict.fromkeys(cuts, 0)
    if not cuts:
        return written
    outputs = {}
    try:
        with av.open(str(src)) as container, ExitStack() as stack:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            width, height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
            for cut, dst in cuts.items():
                tmp = stack.enter_context(atomic_path(dst))  # each clip appears whole or not at all
                out = av.open(str(tmp), "w")
                vstream = out.add_stream(codec, rate=stream.average_rate or 25)
                vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
                vstream.time_base = vstream.codec_context.time_base = stream.time_base
                vstream.options = {"preset": "veryfast"} if codec == "libx264" else {}
                outputs[cut] = (out, vstream)
            last_cut = max(cuts)
            for frame in container.decode(stream):
                if frame.time is None:
                    raise ClipError(f"{src}: a frame without a timestamp; cannot cut it safely")
                if frame.time >= last_cut:
                    break
                image = frame.reformat(width=width, height=height, format="yuv420p")
                for cut, (out, vstream) in outputs.items():
                    if frame.time < cut:
                        image.pts, image.time_base = frame.pts, frame.time_base
                        out.mux(vstream.encode(image))
                        written[cut] += 1
            for out, vstream in outputs.values():
                out.mux(vstream.encode(None))
                out.close()
    except av.FFmpegError as e:
        raise ClipError(f"{src}: cannot cut the video ({e})") from None
    finally:
        for out, _ in outputs.values():
            out.close()
    return written
