"""Leak-free video frame loading: ``load_frames(path, fps, nframes, max_pixels, until, timeout, backend)``.

The masked future of a MOSS-Video sample must never reach the model, so the cut is enforced three times:
frames are chosen from the container's own presentation timestamps (only those < ``until``), the decoder's
output is matched to those timestamps by the frame's own pts (PyAV) or by decord's accurate seek, and the
result is filtered once more on its timestamps before it is returned.

One clock: every time here, in ``until`` and in what is returned, is :func:`seconds` of a frame's pts, the
container's own presentation time, exactly as :mod:`moss_plugins.data.clips` and the lmms-eval clips cut it.
A video whose first frame is not at 0 s (MPEG-TS, streams, edited MP4) keeps its offset. Both backends read
the frame table from the container with PyAV (float64, rounded once): decord's own timestamps are float32
and measured from the first frame, so a cut that falls on a frame could land on either side of it.

Decoding runs in a helper process by default (``timeout`` seconds), because decord can hang or crash inside
C++ on a bad file and a Python thread cannot be interrupted there: on timeout the helper is killed and
:class:`VideoTimeoutError` raised; a crash becomes :class:`VideoCorruptError`. Helpers are pooled per process
(a call takes an idle one, or starts one) and reused, so the cost is one pipe copy of the frames per call.
``timeout=None`` decodes in the calling process.

This file imports only the standard library and numpy at module level (no package-relative imports): the
helper process runs it directly, without importing the rest of ``moss_plugins``.
"""

from __future__ import annotations

import atexit
import bisect
import functools
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

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
    timestamps: np.ndarray  # float64 [T], seconds on the container's clock (see seconds()); all < until
    source_fps: float
    duration: float  # end of the file's last frame on that clock (its length when it starts at 0 s)
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
    at t0, t0 + 1/fps, t0 + 2/fps, ... (t0: the first frame's time; each frame at most once, so fewer when
    ``fps`` exceeds the source rate); or,
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
            with _checked_out() as worker:
                frames, times, source_fps, duration = worker.call(request, backend, timeout)
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


def select_indices(
    times: np.ndarray, fps: float | None, nframes: int | None, until: float | None
) -> np.ndarray:
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
    targets = times[0] + np.arange(math.ceil((end - times[0]) * fps - 1e-9), dtype=np.float64) / fps
    # the frame on screen at each target
    idx = np.searchsorted(times, targets[targets < end], side="right") - 1
    return np.unique(np.clip(idx, 0, n_valid - 1))


def output_size(height: int, width: int, max_pixels: int | None) -> tuple[int, int]:
    """(height, width) with at most ``max_pixels`` pixels and the same aspect ratio (never upscaled)."""
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    h = max(1, math.floor(height * scale))
    w = max(
        1, min(math.floor(width * scale), max_pixels // h)
    )  # a side clamped to 1 px must not break the cap
    return max(1, min(h, max_pixels // w)), w


def _decode(request: _Request, backend: str):
    """(frames, times, source_fps, end); raises _DecodeFailure with a user-facing reason."""
    decode = _decode_decord if backend == "decord" else _decode_pyav
    try:
        table = frame_table(request.path)
        frames, times = decode(
            request.path,
            table,
            lambda t: select_indices(t, request.fps, request.nframes, request.until),
            lambda h, w: output_size(h, w, request.max_pixels),
        )
    except _DecodeFailure as e:
        raise _DecodeFailure(e.kind, f"{backend}: {e.message}") from None
    except ImportError as e:
        raise _DecodeFailure("config", f"the {backend} backend is not installed ({e})") from None
    except Exception as e:  # decoders raise many types (DECORDError, av.FFmpegError, RuntimeError, ...)
        reason = (str(e).strip().splitlines() or [""])[0][:300]  # decord appends a C++ stack trace
        raise _DecodeFailure(
            "corrupt", f"{backend} cannot decode it ({type(e).__name__}: {reason})"
        ) from None
    if len(frames) == 0:
        raise _DecodeFailure(
            "empty",
            f"no frame starts before until={request.until} s "
            f"(the first one starts at {float(table.times[0]):g} s)",
        )
    return frames, times, table.fps, table.end


class _DecodeFailure(Exception):
    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message
        super().__init__(message)


def seconds(pts, time_base) -> float | np.ndarray:
    """The one clock of MOSS-Video: ``pts * time_base`` in seconds, rounded once to the nearest float64.

    A cut written as a decimal (``3.04``) and the frame shown at exactly that time then compare equal, so that
    frame counts as masked. Every time in the package (loader, clip cutter, lmms-eval, builder, checks) comes
    from here; ``pts`` is an int or an int array, ``time_base`` a Fraction (or anything with numerator and
    denominator, like PyAV's)."""
    num, den = int(time_base.numerator), int(time_base.denominator)
    if isinstance(pts, np.ndarray):
        return (pts.astype(np.int64) * num).astype(np.float64) / den
    return int(pts) * num / den  # Python's int division is correctly rounded


@dataclass(frozen=True, eq=False)
class FrameTable:
    """Every frame of a video's first video stream, from its packets (demuxing only, no decoding)."""

    pts: np.ndarray  # int64 [N], sorted: presentation order
    keyframes: list  # pts of the keyframes, sorted
    time_base: Fraction
    fps: float  # the container's average rate (else measured)
    width: int
    height: int
    declared_frames: int = 0  # how many frames the container's header lists (0: it does not say)

    @functools.cached_property
    def times(self) -> np.ndarray:
        """float64 [N] presentation times in seconds (:func:`seconds`)."""
        return seconds(self.pts, self.time_base)

    @property
    def end(self) -> float:
        """When the last frame stops being shown: its start plus one frame period."""
        return float(self.times[-1] + (1.0 / self.fps if self.fps > 0 else 0.0))


def frame_table(path: str) -> FrameTable:
    """The :class:`FrameTable` of ``path``; cached per file version (path, size, mtime), so a video used by
    many samples is demuxed once per process. Raises what PyAV raises, or _DecodeFailure."""
    st = os.stat(path)
    return _frame_table(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _frame_table(path: str, size: int, mtime_ns: int) -> FrameTable:
    import av

    with av.open(path) as container:
        if not container.streams.video:
            raise _DecodeFailure("corrupt", "has no video stream")
        stream = container.streams.video[0]
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
        if not packets:
            raise _DecodeFailure("corrupt", "the video stream has no frames")
        pts = np.unique(np.array([p for p, _ in packets], dtype=np.int64))
        keyframes = sorted({p for p, key in packets if key}) or [int(pts[0])]
        time_base = Fraction(stream.time_base.numerator, stream.time_base.denominator)
        span = float(seconds(int(pts[-1] - pts[0]), time_base))
        fps = float(stream.average_rate or 0.0) or (len(pts) - 1) / max(span, 1e-9)
        return FrameTable(
            pts,
            keyframes,
            time_base,
            fps,
            stream.codec_context.width,
            stream.codec_context.height,
            int(stream.frames or 0),
        )


def _decode_decord(path: str, table: FrameTable, pick: Callable, size: Callable):
    import decord

    vr = decord.VideoReader(path, num_threads=1)
    times = table.times
    if len(vr) != len(times):
        raise _DecodeFailure("corrupt", f"decord lists {len(vr)} frames, the container {len(times)}")
    # decord's index i must be the container's i-th frame in presentation order; its own times are float32 and
    # start at 0, so they only confirm the order (to half the shortest frame gap), the table gives the times.
    own = vr.get_frame_timestamp(range(len(vr)))[:, 0].astype(np.float64)
    gap = float(np.diff(times).min()) if len(times) > 1 else 1.0
    slack = max(gap / 2, 4 * float(np.spacing(np.float32(max(abs(own).max(), 1.0)))))
    if np.abs((own - own[0]) - (times - times[0])).max() > slack:
        raise _DecodeFailure("corrupt", "decord's frame order differs from the container's timestamps")
    idx = pick(times)
    if len(idx) == 0:
        return np.zeros((0, 0, 0, 3), np.uint8), times[:0]
    out_h, out_w = size(table.height, table.width)
    if (out_h, out_w) != (table.height, table.width):
        # decord resizes inside its decoder (swscale), much cheaper than resizing full-size frames afterwards.
        vr = decord.VideoReader(path, width=out_w, height=out_h, num_threads=1)
    frames = vr.get_batch(idx.tolist()).asnumpy()  # get_batch seeks accurately (decodes from the keyframe)
    if frames.shape[1:] != (out_h, out_w, 3):  # decord 0.6 turns frames with rotation metadata (or fails)
        raise _DecodeFailure(
            "corrupt",
            f"decord returns {frames.shape[2]}x{frames.shape[1]} frames of a stream "
            f"stored as {table.width}x{table.height} (rotation metadata?)",
        )
    return frames, times[idx]


def _decode_pyav(path: str, table: FrameTable, pick: Callable, size: Callable):
    import av

    times, pts = table.times, table.pts
    idx = pick(times)
    if len(idx) == 0:
        return np.zeros((0, 0, 0, 3), np.uint8), times[:0]
    with av.open(path) as container:
        stream = container.streams.video[0]
        out_h, out_w = size(table.height, table.width)
        stream.thread_type = "AUTO"
        frames = _decode_by_pts(
            container, stream, sorted({int(pts[i]) for i in idx}), table.keyframes, out_h, out_w
        )
    return np.stack([frames[int(pts[i])] for i in idx]), times[idx]


def _decode_by_pts(
    container, stream, wanted: list[int], keyframes: list[int], height: int, width: int
) -> dict:
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
        raise _DecodeFailure(
            "corrupt", f"{len(missing)} frame(s) listed in the container could not be decoded"
        )
    return out


# --- the helper process ----------------------------------------------------------------------------------

_HEADER = struct.Struct("<Q")
# Runs this file as a script without importing the package (fast start, no side effects).
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__moss_video_worker__')"


class _Worker:
    """One decoding helper process; requests and replies are length-prefixed pickles, frames raw bytes.

    Not multiprocessing/ProcessPoolExecutor: their spawn and forkserver children import the parent's
    ``__main__`` (in a trainer: torch, verl: seconds and a GB per helper), fork is unsafe in a threaded CUDA
    process, and before Python 3.14 a hung worker can only be killed by breaking the whole pool. A helper here
    runs this file alone (numpy and the decoder) and is killed on its own."""

    def __init__(self):
        self.owner = os.getpid()
        self.proc = _SPAWNER.submit(
            subprocess.Popen,
            [sys.executable, "-c", _BOOT, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        ).result()
        _grow_pipe(self.proc.stdout.fileno())

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def call(self, request: _Request, backend: str, timeout: float):
        deadline = time.monotonic() + timeout
        try:
            _send(self.proc.stdin, (request.__dict__, backend))
            header = pickle.loads(
                _read(
                    self.proc.stdout.fileno(),
                    _HEADER.unpack(_read(self.proc.stdout.fileno(), _HEADER.size, deadline))[0],
                    deadline,
                )
            )
            if "error" in header:
                raise _DecodeFailure(*header["error"])
            frames = np.empty(header["shape"], dtype=np.uint8)
            _read(self.proc.stdout.fileno(), frames.nbytes, deadline, into=frames)
        except TimeoutError:
            self.stop(kill=True)
            raise VideoTimeoutError(
                request.path,
                f"the {backend} decoder did not finish within {timeout:g} s "
                "(killed; pass a larger timeout= if the file is just large)",
            ) from None
        except (EOFError, BrokenPipeError):
            code = self.stop(kill=True)
            raise VideoCorruptError(
                request.path, f"the {backend} decoder crashed on it (exit code {code})"
            ) from None
        return frames, np.asarray(header["times"], dtype=np.float64), header["fps"], header["duration"]

    def stop(self, kill: bool = False) -> int | None:
        """End the helper, reap it and close both pipes (idempotent)."""
        if self.proc.returncode is None:
            if kill:
                self.proc.kill()
            elif not self.proc.stdin.closed:
                self.proc.stdin.close()  # the helper's loop ends at the end of its input
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for f in (self.proc.stdin, self.proc.stdout):
                if not f.closed:
                    f.close()


# Linux's parent-death signal fires when the *thread* that started a helper ends, so helpers are started by one
# long-lived thread, never by the (possibly short-lived) caller's thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moss-video-spawner")
_IDLE: list[_Worker] = []  # helpers waiting for a call, most recently used last
_IDLE_LOCK = threading.Lock()
MAX_IDLE = 16  # more idle helpers than that (each ~120 MB RSS, mostly shared libraries) are stopped on return


class _checked_out:
    """``with _checked_out() as worker``: an idle helper of this process (or a new one) for one call; it goes
    back to the pool afterwards unless it died (then it is reaped), so neither processes nor pipes accumulate
    however many threads come and go."""

    def __enter__(self) -> _Worker:
        with _IDLE_LOCK:
            while _IDLE:
                worker = _IDLE.pop()
                if worker.alive():
                    self.worker = worker
                    return worker
                worker.stop()
        self.worker = _Worker()
        return self.worker

    def __exit__(self, *exc) -> None:
        worker = self.worker
        if worker.alive():
            with _IDLE_LOCK:
                if len(_IDLE) < MAX_IDLE:
                    _IDLE.append(worker)
                    return
        worker.stop()


def _after_fork_in_child() -> None:
    """A forked child must not talk to its parent's helpers (nor wait for them): close its copies of their
    pipes and start its own helpers, from its own spawner thread (the parent's does not exist in the child)."""
    global _SPAWNER, _IDLE_LOCK
    for worker in _IDLE:
        for f in (worker.proc.stdin, worker.proc.stdout):
            if not f.closed:
                f.close()
    _IDLE.clear()
    _IDLE_LOCK = threading.Lock()
    _SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moss-video-spawner")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _stop_workers() -> None:
    with _IDLE_LOCK:
        workers = list(_IDLE)
        _IDLE.clear()
    for worker in workers:
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
    for chunk in (
        _HEADER.pack(len(data)) + data,
        b"" if payload is None else memoryview(payload.reshape(-1)),
    ):
        view = memoryview(chunk)
        while len(view):  # unbuffered pipes may take a write only in part
            view = view[stream.write(view) :]


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
    """Linux: the kernel kills the helper when the thread that started it (the spawner) ends, so a helper stuck
    in a hanging decode cannot outlive a killed trainer (it would never read the end of its input)."""
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
        _send(
            proto_out,
            {"shape": frames.shape, "times": times.tolist(), "fps": fps, "duration": duration},
            frames,
        )


if __name__ == "__moss_video_worker__":
    _serve()
