"""Video frames for the rollout: capped, leak-free, and decoded once per GRPO group.

verl 0.9 decodes videos in the rollout, not in the dataset: each of the ``rollout.n`` agent loops of a group
calls the dataset class's ``process_multi_modal_info`` on the same messages, concurrently, in the same
AgentLoopWorker process (``AgentLoopWorkerTQ._run_prompt`` starts all n at once). :data:`CACHE` is a
per-process single-flight LRU (:class:`~moss_plugins.single_flight.SingleFlight`): the first call decodes, the
others wait for that result, so a group costs one decode instead of n (and a hanging file costs one decoder
timeout, not n).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moss_plugins.data.video import BACKENDS, DEFAULT_TIMEOUT
from moss_plugins.options import check, integer, known, number, one_of, refuse
from moss_plugins.single_flight import SingleFlight

# Qwen2/2.5-VL merge 2 consecutive frames into one temporal patch: an odd count would be padded by the processor.
FRAME_FACTOR = 2
# Spatial merge of 2x2 patches: frame sides are multiples of patch_size * SPATIAL_MERGE.
SPATIAL_MERGE = 2
VIDEO_AS = ("frames", "captions")


WHERE = "data.moss_video."
RULES = {
    **dict.fromkeys(("min_frames", "max_frames", "min_pixels", "max_pixels", "cache_size"), integer(1)),
    **dict.fromkeys(("fps", "timeout"), number(0, low_open=True)),
    "backend": one_of(BACKENDS),
    "video_as": one_of(VIDEO_AS),
}


@dataclass(frozen=True)
class VideoOptions:
    """The ``data.moss_video`` block of ``data/moss_video.yaml`` (defaults and reasons are documented there)."""

    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 32
    min_pixels: int = 16 * 28 * 28
    max_pixels: int = 128 * 28 * 28
    timeout: float = DEFAULT_TIMEOUT
    backend: str = "auto"
    cache_size: int = 16
    video_as: str = "frames"

    def __post_init__(self):
        check(self, RULES, WHERE, ValueError)
        if self.max_frames < max(self.min_frames, FRAME_FACTOR):
            raise refuse(
                WHERE,
                "max_frames",
                self.max_frames,
                f"must be >= min_frames ({self.min_frames}) and >= {FRAME_FACTOR}",
                ValueError,
            )
        if self.max_pixels < self.min_pixels:
            raise refuse(
                WHERE, "max_pixels", self.max_pixels, f"must be >= min_pixels ({self.min_pixels})", ValueError
            )

    @classmethod
    def from_data_config(cls, config: Any) -> VideoOptions:
        """Options from verl's data config (``config.moss_video``); unknown keys are an error."""
        from omegaconf import OmegaConf

        block = config.get("moss_video") if config is not None else None
        values = (
            OmegaConf.to_container(block, resolve=True) if OmegaConf.is_config(block) else dict(block or {})
        )
        known(cls, values, ValueError, where="data.moss_video: ")
        return cls(**values)

    def nframes(self, observed_seconds: float) -> int:
        """Frames for an observed window: ``fps`` per second, within [min_frames, max_frames], even."""
        n = min(max(round(observed_seconds * self.fps), self.min_frames), self.max_frames)
        return max(FRAME_FACTOR, n // FRAME_FACTOR * FRAME_FACTOR)

    def max_video_tokens(self, patch_size: int = 14) -> int:
        """Upper bound of the LLM tokens one video costs (for the prompt-length budget)."""
        pixels_per_token = (patch_size * SPATIAL_MERGE) ** 2
        return self.max_frames // FRAME_FACTOR * math.ceil(self.max_pixels / pixels_per_token)


CACHE = SingleFlight()  # decoded videos; its ``loads`` are the decodes


def video_item_end(item: Mapping, where: str = "video") -> float:
    """The cut of a ``{"type": "video", "video": path, "video_start": 0.0, "video_end": s}`` item, validated."""
    start, end = item.get("video_start") or 0.0, item.get("video_end")
    if start != 0:
        raise ValueError(
            f"{where}: video_start={start}; MOSS-Video clips are observed from 0 s (set it to 0.0)"
        )
    if end is None or isinstance(end, bool) or not isinstance(end, (int, float)) or not end > 0:
        raise ValueError(f"{where}: video_end (the cut, observed_until) must be a number > 0, got {end!r}")
    return float(end)


def load_video(item: Mapping, options: VideoOptions, patch_size: int = 14):
    """``(frames uint8 [T, 3, H, W], metadata)`` as verl's processors take them, from before ``video_end`` only.

    T = ``options.nframes(video_end)`` evenly spaced frames ending with the last one before the cut; H and W
    are multiples of ``patch_size * 2`` within [min_pixels, max_pixels], so the processor does not resize again.
    """
    path = os.fspath(item["video"]).removeprefix("file://")
    until = video_item_end(item, path)
    stat = os.stat(path)  # also: a missing file fails here, before the cache, with the path in the message
    key = (
        os.path.realpath(path),
        stat.st_mtime_ns,
        until,
        options.nframes(until),
        options.min_pixels,
        options.max_pixels,
        patch_size,
        options.backend,
    )
    return CACHE.get(key, lambda: _decode(path, until, options, patch_size), options.cache_size)


def _decode(path: str, until: float, options: VideoOptions, patch_size: int):
    import torch
    from qwen_vl_utils import smart_resize
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    from moss_plugins.data.video import load_frames  # looked up per call (tests patch it)

    video = load_frames(
        path,
        nframes=options.nframes(until),
        max_pixels=options.max_pixels,
        until=until,
        timeout=options.timeout,
        backend=options.backend,
    )
    frames = torch.from_numpy(video.frames).permute(0, 3, 1, 2)
    height, width = frames.shape[-2:]
    size = smart_resize(
        height,
        width,
        factor=patch_size * SPATIAL_MERGE,
        min_pixels=options.min_pixels,
        max_pixels=options.max_pixels,
    )
    if tuple(size) != (height, width):
        frames = F.resize(frames, list(size), interpolation=InterpolationMode.BICUBIC, antialias=True)
    fps = float(video.source_fps)
    # The stream's first frame, on the container's clock (a stream may start after 0 s): every sampling mode of
    # load_frames starts there, so no second pass over the file is needed for it.
    start = float(video.timestamps[0])
    metadata = {
        "fps": fps,
        "frames_indices": [round((t - start) * fps) for t in video.timestamps.tolist()],
        # The window the frames were drawn from: the processor derives the sampling rate (and Qwen2.5-VL its
        # absolute time positions) as len(frames_indices) / total_num_frames * fps.
        "total_num_frames": max(1, math.ceil((min(until, video.duration) - start) * fps - 1e-6)),
        "video_backend": video.backend,
    }
    return frames.contiguous(), metadata
