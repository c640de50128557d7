"""Probing a video and physically cutting it at ``observed_until`` (PyAV), streaming frame by frame.

A clip cut here holds only frames whose timestamp is strictly before the cut, so that a loader other than ours
(a framework's own video reader that ignores ``observed_until``) cannot show the model the masked future.
Frames keep their original timestamps, so times in a clip mean the same as in the source video. Times are
the container's own (:func:`moss_plugins.data.video.seconds`, the clock ``load_frames`` uses too), so a video
whose first frame is not at 0 s is cut where the loader cuts it.

Two ways to cut (:func:`cut_observed` picks): copying the compressed packets, no decoding, when a prefix of the
stream in decoding order holds exactly the frames before the cut (:func:`copyable_prefix`: always for streams
without B-frames, and for cuts right after a reference frame otherwise); else decoding and re-encoding, at most
at ``max_pixels`` per frame (:func:`cut_clips`), the size a video model is shown anyway. A prefix in decoding
order always decodes (a frame refers only to frames decoded before it); one that ended later would hold a frame
from after the cut, one that ended earlier would lose frames before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .paths import atomic_path
from .video import seconds


class ClipError(RuntimeError):
    """A video that cannot be opened, probed or cut; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds, from the first frame to the end of the last
    fps: float
    width: int
    height: int
    start: float = 0.0  # the first frame's time on the container's clock (not 0 for MPEG-TS, streams, edits)

    @property
    def end(self) -> float:
        """When the video ends, on the clock of ``observed_until`` and segment times."""
        return self.start + self.duration


def probe_video(path: str | Path) -> VideoInfo:
    """Start, duration and geometry from the container, falling back to the packets' timestamps (no decoding)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            start = seconds(stream.start_time, stream.time_base) if stream.start_time is not None else 0.0
            duration = _duration(container, stream, path, start)
            return VideoInfo(duration, fps, stream.codec_context.width, stream.codec_context.height, start)
    except av.FFmpegError as e:
        raise ClipError(f"{path}: cannot read the video ({e})") from None


def _duration(container, stream, path, start: float) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return seconds(stream.duration, stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    last = start
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            last = max(last, seconds(packet.pts + (packet.duration or 0), packet.time_base))
    if last <= start:
        raise ClipError(f"{path}: neither the container nor its packets say how long the video is")
    return last - start


def copyable_prefix(src: str | Path, cut: float) -> int | None:
    """The number of packets, in decoding order, that hold exactly the frames of ``src`` with timestamp < ``cut``,
    or None when no prefix does (a frame before the cut is decoded after one at or after it) or timestamps are
    missing. Reads packet headers only."""
    import av

    try:
        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            n, ended = 0, False
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if packet.pts is None or packet.time_base is None:
                    return None
                before = seconds(packet.pts, packet.time_base) < cut
                if before and ended:
                    return None
                if not before:
                    ended = True
                    if packet.dts is not None and seconds(packet.dts, packet.time_base) >= cut:
                        break  # decoding times only grow, and no frame is shown before it is decoded
                elif not ended:
                    n += 1
            return n
    except av.FFmpegError as e:
        raise ClipError(f"{src}: cannot read the video ({e})") from None


def copy_prefix(src: str | Path, n_packets: int, dst: str | Path) -> int:
    """Write the first ``n_packets`` packets of ``src``'s video stream (decoding order) to ``dst`` unchanged
    (:func:`copyable_prefix` says how many); returns the number written."""
    import av

    written = 0
    try:
        with av.open(str(src)) as container, atomic_path(dst) as tmp, av.open(str(tmp), "w") as out:
            stream = container.streams.video[0]
            ostream = out.add_stream_from_template(stream)
            step = _frame_step(stream)
            for packet in container.demux(stream):
                if written == n_packets:
                    break
                if packet.size == 0:
                    continue
                # Without a duration the clip ends where its last frame starts: its edit list (an encoder delay,
                # B-frames) then hides that frame from every reader.
                if not packet.duration and step:
                    packet.duration = step
                packet.stream = ostream
                out.mux(packet)
                written += 1
    except av.FFmpegError as e:
        raise ClipError(f"{src}: cannot copy the video's packets ({e})") from None
    return written


def _frame_step(stream) -> int:
    """One frame's duration in ``stream``'s time base (0 when the rate is unknown)."""
    rate = stream.average_rate or stream.guessed_rate
    return max(1, round(1 / (rate * stream.time_base))) if rate and stream.time_base else 0


def cut_observed(
    src: str | Path, cut: float, dst: str | Path, max_pixels: int | None = None, progress: bool = False
) -> tuple[str, int]:
    """Write the frames of ``src`` before ``cut`` to ``dst``: their packets copied when a prefix holds exactly
    them, else re-encoded at most at ``max_pixels``. Returns ("copied" | "encoded", frames or packets)."""
    n = copyable_prefix(src, cut)
    if n:
        try:
            return "copied", copy_prefix(src, n, dst)
        except Exception:  # any muxing error: a codec the .mp4 muxer does not take (ProRes, FFV1) is a plain
            pass  # ValueError from PyAV, others are FFmpeg's; encoding makes an .mp4 of anything that decodes
    # ultrafast: ~5x veryfast's speed (decoding the source is then the slower half) for ~4x the bytes; these
    # clips are a cache of what a model is shown, not a dataset
    clip = cut_clips(src, {cut: dst}, max_pixels=max_pixels, progress=progress, preset="ultrafast")
    return "encoded", clip[float(cut)]


def fit_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """Even width and height at most ``max_pixels`` in area, keeping the aspect ratio (yuv420p needs even)."""
    scale = min(1.0, (max_pixels / (width * height)) ** 0.5) if max_pixels else 1.0
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def cut_clips(
    src: str | Path,
    cuts: Mapping[float, str | Path],
    codec: str | None = None,
    max_pixels: int | None = None,
    progress: bool = False,
    preset: str = "veryfast",
) -> dict[float, int]:
    """Write, for each ``cut -> dst``, the frames of ``src`` with timestamp < cut; one decoding pass for all.

    Returns the number of frames written per cut. ``codec``: by default the one the synthetic videos use
    (H.264 when this PyAV build has it). Frames are scaled down to at most ``max_pixels`` (None: kept) and odd
    sizes cropped to even (yuv420p needs it). ``progress``: a tqdm bar over the frames. ``preset``: x264's.
    """
    import av
    from tqdm.auto import tqdm

    from .synth.render import encode_reproducibly, video_codec

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
            width, height = fit_size(stream.codec_context.width, stream.codec_context.height, max_pixels)
            fps = float(stream.average_rate or stream.guessed_rate or 0) or None
            bar = stack.enter_context(
                tqdm(
                    total=round(max(cuts) * fps) if fps else None,
                    unit="frame",
                    desc=f"cutting {Path(src).name}",
                    disable=not progress,
                )
            )
            for cut, dst in cuts.items():
                tmp = stack.enter_context(atomic_path(dst))  # each clip appears whole or not at all
                out = av.open(str(tmp), "w")
                vstream = out.add_stream(codec, rate=stream.average_rate or 25)
                vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
                vstream.time_base = vstream.codec_context.time_base = stream.time_base
                encode_reproducibly(vstream, codec, preset=preset)
                outputs[cut] = (out, vstream)
            last_cut = max(cuts)
            for frame in container.decode(stream):
                if frame.pts is None:
                    raise ClipError(f"{src}: a frame without a timestamp; cannot cut it safely")
                t = seconds(frame.pts, frame.time_base)
                if t >= last_cut:
                    break
                bar.update()
                image = frame.reformat(width=width, height=height, format="yuv420p")
                for cut, (out, vstream) in outputs.items():
                    if t < cut:
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
