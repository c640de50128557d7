"""Is this a video a run can use? The one check that ``moss data validate``, verl's start-up row check
(:mod:`moss_plugins.verl.rows`) and lmms-eval's loader (:mod:`moss_plugins.lmms_eval.dataset`) share, so that
a missing, empty, truncated or not-a-video file, a cut before the first frame or a frame shape the model's
processor refuses stops a run at start-up, naming the row and field, instead of in a rollout hours later.

Fast: the container's frame table (demuxing, no decoding), then only the frames a cut needs are decoded (the
first and the last one before it, which also proves the data up to the cut is there). Each distinct video
(path, size, mtime) is probed once per process, and decoded again only for a later cut than any checked.
Decoding runs in the killable helper process of :func:`moss_plugins.data.video.load_frames`, so a file that
hangs the decoder costs one timeout.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from ..sample import ValidationError
from .video import DEFAULT_TIMEOUT, VideoError, frame_table, load_frames

# qwen-vl-utils' smart_resize (Qwen2-VL, Qwen2.5-VL) raises on frames more elongated than 200:1.
MAX_ASPECT = 200.0
# A frame over 16384 px a side is a broken header or not something to train on (one such frame is >= 800 MB).
MAX_SIDE = 16384
_CACHE_SIZE = 4096


@dataclass
class _Probe:
    error: str = ""  # why the file is unusable whatever the cut ("" when it is fine so far)
    first: float = 0.0  # the first frame's time (container clock)
    checked_until: float = -math.inf  # frames before this cut were decoded fine
    cut_errors: dict = dataclass_field(default_factory=dict)  # cut -> why decoding up to it failed


_probes: OrderedDict[tuple, _Probe] = OrderedDict()


def check_video(
    path,
    until: float | None = None,
    *,
    field: str = "video",
    until_field: str = "observed_until",
    timeout: float | None = DEFAULT_TIMEOUT,
    backend: str = "auto",
) -> None:
    """Raise :class:`ValidationError` (``field``, or ``until_field`` for a cut with no frame before it) unless
    ``path`` is a regular, non-empty video file whose frames are of a sane size and aspect ratio and whose
    frames before ``until`` (all of them when None) decode."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValidationError(f"no such video file: {path}", field)
    if not os.path.isfile(path):
        raise ValidationError(f"not a regular file: {path}", field)
    st = os.stat(path)
    if st.st_size == 0:
        raise ValidationError(f"the video file is empty (0 bytes): {path}", field)
    probe = _probe(path, (os.path.realpath(path), st.st_size, st.st_mtime_ns))
    if probe.error:
        raise ValidationError(probe.error, field)
    if until is not None and not until > probe.first:
        raise ValidationError(
            f"no frame of {path} starts before the cut at {until} s (the first one starts at "
            f"{probe.first:g} s; cuts are on the video's own clock)",
            until_field,
        )
    cut = math.inf if until is None else float(until)
    if cut in probe.cut_errors:
        raise ValidationError(probe.cut_errors[cut], field)
    if cut <= probe.checked_until:
        return
    try:  # the first and the last frame before the cut: the decoder reads from the last keyframe up to it
        load_frames(path, nframes=2, until=until, timeout=timeout, backend=backend)
    except VideoError as e:
        probe.cut_errors[cut] = f"cannot decode the frames before the cut at {until} s: {e}"
        raise ValidationError(probe.cut_errors[cut], field) from None
    probe.checked_until = cut


def _probe(path: str, key: tuple) -> _Probe:
    if key in _probes:
        _probes.move_to_end(key)
        return _probes[key]
    probe = _Probe()
    try:
        table = frame_table(path)
    except (
        Exception
    ) as e:  # PyAV raises many types for files it cannot read (InvalidDataError, EOFError, ...)
        reason = (
            getattr(e, "message", None) or getattr(e, "strerror", None) or str(e).strip() or type(e).__name__
        )
        probe.error = f"not a readable video ({reason.splitlines()[0][:200]}): {path}"
    else:
        probe.first = float(table.times[0])
        w, h = table.width, table.height
        if table.declared_frames > len(table.pts):
            probe.error = (
                f"truncated: the container lists {table.declared_frames} frames, the file holds "
                f"{len(table.pts)}: {path}"
            )
        elif w < 1 or h < 1 or max(w, h) > MAX_SIDE:
            probe.error = f"frames are {w}x{h} px, a usable video has 1 to {MAX_SIDE} px a side: {path}"
        elif max(w, h) / min(w, h) > MAX_ASPECT:
            probe.error = (
                f"frames are {w}x{h} px, an aspect ratio of {max(w, h) / min(w, h):.0f}:1 (the Qwen2-VL "
                f"and Qwen2.5-VL processors refuse more than {MAX_ASPECT:.0f}:1): {path}"
            )
    _probes[key] = probe
    if len(_probes) > _CACHE_SIZE:
        _probes.popitem(last=False)
    return probe
