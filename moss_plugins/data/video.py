"""Leak-free video frame loading: ``load_frames(path, fps, nframes, max_pixels, until, timeout, backend)``.

The masked future of a MOSS-Video sample must never reach the model, so the cut is enforced three times:
frames are chosen from the container's own presentation timestamps (only those < ``until``), the decoder's
output is matched to those timestamps by the frame's own pts (PyAV) or by decord's accurate seek, and the
result is filtered once more on its timestamps before it is returned.

Decoding runs in a helper process by default (``timeout`` seconds), because decord can hang or crash inside
C++ on a bad file and a Python thread cannot be interrupted there: on timeout the helper is killed and
:class:`VideoTimeoutError` raised; a crash becomes :class:`VideoCorruptError`. One helper is kept per thread
and process and reused, so the cost is one pipe copy of the frames per call. ``timeout=None`` decodes in the
calling process.

This file imports only the standard library and numpy at module level (no package-relative imports): the
helper process runs it directly, without importing the rest of ``moss_plugins``.
"""

from __future__ import annotations

import atexit
import bisect
import importlib.util
import math
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

BACKENDS = ("auto", "decord", "pyav")
DEFAULT_TIMEOUT = 60.0


class VideoError(RuntimeError):
    """A video could not be loaded; ``path`` names it (it is also in the message)."""

    def __init__(self, path: str, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    pass


class VideoCorruptError(VideoError):
    """The file is not a readable video (or the decoder crashed on it)."""


class VideoTimeoutError(VideoError, TimeoutError):
    """The decoder did not finish within the timeout and was killed."""


@dataclass(frozen=True, eq=False)
class VideoFrames:
    frames: np.ndarray  # uint8 [T, H, W, 3], RGB
    timestamps: np.ndarray  # float64 [T], seconds from the first frame; all < until
    source_fps: float
    duration: float  # of the whole file, not of the returned window
    backend: str = ""


@dataclass(frozen=True)
class _Request:
    path: str
    fps: float | None
    nframes: int | None
    max_pixels: int | None
    until: float | None


def load_frames(
    path,
    fps: float | None = None,
    nframes: int | None = None,
    max_pixels: int | None = None,
    until: float | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    backend: str = "auto",
) -> VideoFrames:
    """Frames of ``path`` shown before ``until`` seconds (all of them when ``until`` is None).

    Sampling: ``nframes`` evenly spaced frames from the first to the last one before ``until`` (indices are
    repeated when the window holds fewer frames, so the count is always ``nframes``); or the frames on screen
    at 0, 1/fps, 2/fps, ... seconds (each at most once, so fewer when ``fps`` exceeds the source rate); or,
    with neither, every frame. ``max_pixels`` caps height x width, keeping the aspect ratio.
    ``backend="auto"`` uses decord when it is installed and falls back to PyAV when decord fails or hangs
    (each attempt gets ``timeout`` seconds).
    """
    path = os.fspath(path)
    if fps is not None and nframes is not None:
        raise ValueError("give fps or nframes, not both")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if nframes is not None and (isinstance(nframes, bool) or int(nframes) != nframes or nframes < 1):
        raise ValueError(f"nframes must be a positive integer, got {nframes}")
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    if until is not None and not until > 0:
        raise ValueError(f"until must be > 0 seconds, got {until}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds or None, got {timeout}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    if not os.path.exists(path):
        raise VideoNotFoundError(path, "no such video file")
    if os.path.isdir(path):
        raise VideoNotFoundError(path, "is a folder, not a video file")

    request = _Request(path, fps, None if nframes is None else int(nframes), max_pixels, until)
    if backend != "auto":
        return _load(request, backend, timeout)
    if importlib.util.find_spec("decord") is None:
        return _load(request, "pyav", timeout)
    try:
        return _load(request, "decord", timeout)
    except (VideoCorruptError, VideoTimeoutError) as first:
        try:
            return _load(request, "pyav", timeout)
        except VideoError as second:
            reasons = [e.args[0].removeprefix(f"{path}: ") for e in (second, first)]
            raise type(second)(path, f"{reasons[0]}; before that, {reasons[1]}") from None


def _load(request: _Request, backend: str, timeout: float | None) -> VideoFrames:
    try:
        if timeout is None:
            frames, times, source_fps, duration = _decode(request, backend)
        else:
            frames, times, source_fps, duration = _worker().call(request, backend, timeout)
    except _DecodeFailure as e:
        if e.kind == "config":
            raise ValueError(e.message) from None
        error = VideoCorruptError if e.kind == "corrupt" else VideoError
        raise error(request.path, e.message) from None
    # The last line of defence: whatever a decoder did, nothing at or after the cut leaves this function.
    if request.until is not None:
        keep = times < request.until
        frames, times = frames[keep], times[keep]
    return VideoFrames(frames, times, source_fps, duration, backend)


# --- decoding (runs in the helper process, or in the caller when timeout=None) -------------------------


def select_indices(times: np.ndarray, fps: float | None, nframes: int | None, until: float | None) -> np.ndarray:
    """Indices into ``times`` (sorted frame start times) of the frames to return; none at or after ``until``."""
    n_valid = len(times) if until is None else int(np.searchsorted(times, until, side="left"))
    if n_valid == 0:
        return np.zeros(0, dtype=np.int64)
    if nframes is not None:
        return np.round(np.linspace(0, n_valid - 1, nframes)).astype(np.int64)
    if fps is None:
        return np.arange(n_valid, dtype=np.int64)
    frame_step = (times[-1] - times[0]) / max(len(times) - 1, 1)
    end = until if until is not None else times[-1] + frame_step
    targets = np.arange(math.ceil(end * fps - 1e-9), dtype=np.float64) / fps
    idx = np.searchsorted(times, targets[targets < end], side="right") - 1  # the frame on screen at each target
    return np.unique(np.clip(idx, 0, n_valid - 1))


def output_size(height: int, width: int, max_pixels: int | None) -> tuple[int, int]:
    """(height, width) with at most ``max_pixels`` pixels and the same aspect ratio (never upscaled)."""
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    h = max(1, math.floor(height * scale))
    w = max(1, min(math.floor(width * scale), max_pixels // h))  # a side clamped to 1 px must not break the cap
    return max(1, min(h, max_pixels // w)), w


def _decode(request: _Request, backend: str):
    """(frames, times, source_fps, duration); raises _DecodeFailure with a user-facing reason."""
    decode = _decode_decord if backend == "decord" else _decode_pyav
    try:
        frames, times, source_fps, duration = decode(
            request.path, lambda t: select_indices(t, request.fps, request.nframes, request.until),
            lambda h, w: output_size(h, w, request.max_pixels))  # fmt: skip
    except _DecodeFailure as e:
        raise _DecodeFailure(e.kind, f"{backend}: {e.message}") from None
    except ImportError as e:
        raise _DecodeFailure("config", f"the {backend} backend is not installed ({e})") from None
    except Exception as e:  # decoders raise many types (DECORDError, av.FFmpegError, RuntimeError, ...)
        reason = (str(e).strip().splitlines() or [""])[0][:300]  # decord appends a C++ stack trace
        raise _DecodeFailure("corrupt", f"{backend} cannot decode it ({type(e).__name__}: {reason})") from None
    if len(frames) == 0:
        raise _DecodeFailure("empty", f"no frame starts before until={request.until} s")
    return frames, times, source_fps, duration


class _DecodeFailure(Exception):
    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message
        super().__init__(message)


def _duration(times: np.ndarray, fps: float) -> float:
    return float(times[-1] + (1.0 / fps if fps > 0 else 0.0))


def _decode_decord(path: str, pick: Callable, size: Callable):
    import decord

    vr = decord.VideoReader(path, num_threads=1)
    starts = vr.get_frame_timestamp(range(len(vr)))[:, 0]
    times = starts - starts[0]
    fps = float(vr.get_avg_fps())
    idx = pick(times)
    if len(idx) == 0:
        return np.zeros((0, 0, 0, 3), np.uint8), times[:0], fps, _duration(times, fps)
    h, w = vr[0].shape[:2]
    out_h, out_w = size(h, w)
    if (out_h, out_w) != (h, w):
        # decord resizes inside its decoder (swscale), much cheaper than resizing full-size frames afterwards.
        vr = decord.VideoReader(path, width=out_w, height=out_h, num_threads=1)
    frames = vr.get_batch(idx.tolist()).asnumpy()  # get_batch seeks accurately (decodes from the keyframe)
    return frames, times[idx], fps, _duration(times, fps)


def _decode_pyav(path: str, pick: Callable, size: Callable):
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        # The frame table from packet timestamps (demuxing only, no decoding).
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
        if not packets:
            raise _DecodeFailure("corrupt", "the video stream has no frames")
        pts = np.array(sorted(p for p, _ in packets), dtype=np.int64)
        keyframes = sorted(p for p, key in packets if key) or [int(pts[0])]
        tb = float(stream.time_base)
        times = (pts - pts[0]) * tb
        fps = float(stream.average_rate or 0.0) or (len(pts) - 1) / max(float(times[-1]), 1e-9)
        idx = pick(times)
        if len(idx) == 0:
            return np.zeros((0, 0, 0, 3), np.uint8), times[:0], fps, _duration(times, fps)
        out_h, out_w = size(stream.codec_context.height, stream.codec_context.width)
        stream.thread_type = "AUTO"
        frames = _decode_by_pts(container, stream, sorted({int(pts[i]) for i in idx}), keyframes, out_h, out_w)
    return np.stack([frames[int(pts[i])] for i in idx]), times[idx], fps, _duration(times, fps)


def _decode_by_pts(container, stream, wanted: list[int], keyframes: list[int], height: int, width: int) -> dict:
    """{pts: RGB frame} for the ``wanted`` pts (sorted). Each decoded frame is identified by its own pts, so a
    seek that lands elsewhere can only miss a frame, never substitute a later one. Seeks only when the next
    wanted frame lies beyond a keyframe not yet reached; a frame a seek missed is decoded again from the start."""
    out: dict[int, np.ndarray] = {}

    def run(targets: list[int], seek: bool) -> None:
        decoded, pos = None, None
        for target in targets:
            key = keyframes[max(bisect.bisect_right(keyframes, target) - 1, 0)]
            if decoded is None or (seek and pos is not None and key > pos):
                container.seek(key if seek else 0, stream=stream, backward=True, any_frame=False)
                decoded = container.decode(stream)
            for frame in decoded:
                if frame.pts is None:
                    continue
                pos = frame.pts
                if frame.pts in wanted_set and frame.pts not in out:
                    out[frame.pts] = frame.to_ndarray(format="rgb24", width=width, height=height)
                if frame.pts >= target:
                    break

    wanted_set = set(wanted)
    run(wanted, seek=True)
    missing = [p for p in wanted if p not in out]
    if missing:
        run(missing, seek=False)
        missing = [p for p in wanted if p not in out]
    if missing:
        raise _DecodeFailure("corrupt", f"{len(missing)} frame(s) listed in the container could not be decoded")
    return out


# --- the helper process ----------------------------------------------------------------------------------

_HEADER = struct.Struct("<Q")
# Runs this file as a script without importing the package (fast start, no side effects).
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__moss_video_worker__')"


class _Worker:
    """One decoding helper process; requests and replies are length-prefixed pickles, frames raw bytes."""

    _local = threading.local()
    _all: ClassVar[list[_Worker]] = []

    def __init__(self):
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True)  # fmt: skip
        _grow_pipe(self.proc.stdout.fileno())
        _Worker._all.append(self)

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def call(self, request: _Request, backend: str, timeout: float):
        deadline = time.monotonic() + timeout
        try:
            _send(self.proc.stdin, (request.__dict__, backend))
            header = pickle.loads(_read(self.proc.stdout.fileno(), _HEADER.unpack(
                _read(self.proc.stdout.fileno(), _HEADER.size, deadline))[0], deadline))  # fmt: skip
            if "error" in header:
                raise _DecodeFailure(*header["error"])
            frames = np.empty(header["shape"], dtype=np.uint8)
            _read(self.proc.stdout.fileno(), frames.nbytes, deadline, into=frames)
        except TimeoutError:
            self.stop(kill=True)
            raise VideoTimeoutError(request.path, f"the {backend} decoder did not finish within {timeout:g} s "
                                    "(killed; pass a larger timeout= if the file is just large)") from None
        except (EOFError, BrokenPipeError):
            code = self.stop(kill=True)
            raise VideoCorruptError(request.path, f"the {backend} decoder crashed on it (exit code {code})") from None
        return frames, np.asarray(header["times"], dtype=np.float64), header["fps"], header["duration"]

    def stop(self, kill: bool = False) -> int | None:
        if kill:
            self.proc.kill()
        else:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for f in (self.proc.stdin, self.proc.stdout):
                if not f.closed:
                    f.close()
            if self in _Worker._all:
                _Worker._all.remove(self)


def _worker() -> _Worker:
    worker = getattr(_Worker._local, "worker", None)
    if worker is None or not worker.alive():  # also after fork: the parent's helper belongs to the parent
        worker = _Worker._local.worker = _Worker()
    return worker


@atexit.register
def _stop_workers() -> None:
    for worker in list(_Worker._all):
        if worker.owner == os.getpid():
            worker.stop()


def _grow_pipe(fd: int) -> None:
    try:  # Linux: a 1 MiB pipe moves frames in fewer, larger reads
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


def _send(stream, obj, payload: np.ndarray | None = None) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    for chunk in (_HEADER.pack(len(data)) + data, b"" if payload is None else memoryview(payload.reshape(-1))):
        view = memoryview(chunk)
        while len(view):  # unbuffered pipes may take a write only in part
            view = view[stream.write(view):]


def _read(fd: int, n: int, deadline: float | None, into: np.ndarray | None = None):
    """Exactly ``n`` bytes from ``fd`` (into ``into``'s buffer if given); TimeoutError past ``deadline``."""
    buf = memoryview(into.reshape(-1)) if into is not None else memoryview(bytearray(n))
    got = 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        k = os.readv(fd, [buf[got:n]])
        if k == 0:
            raise EOFError
        got += k
    return buf.obj if into is None else into


def _die_with_parent() -> None:
    """Linux: the kernel kills the helper when the thread that started it ends, so a helper stuck in a
    hanging decode cannot outlive a killed trainer (it would never read the end of its input)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(0)


def _serve() -> None:
    """Helper main loop: decode requests from stdin until it closes."""
    _die_with_parent()
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stray prints from decoders go to stderr, never into the protocol stream
    while True:
        try:
            (n,) = _HEADER.unpack(_read(proto_in.fileno(), _HEADER.size, None))
            fields, backend = pickle.loads(_read(proto_in.fileno(), n, None))
        except EOFError:
            return
        try:
            frames, times, fps, duration = _decode(_Request(**fields), backend)
        except _DecodeFailure as e:
            _send(proto_out, {"error": (e.kind, e.message)})
            continue
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        _send(proto_out, {"shape": frames.shape, "times": times.tolist(), "fps": fps, "duration": duration}, frames)


if __name__ == "__moss_video_worker__":
    _serve()
