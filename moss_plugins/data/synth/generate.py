"""Generate a synthetic MOSS-Video set: render every video, ask its questions, split, balance the answers, write.

Video ``i`` depends only on ``(seed, i)``, so runs are reproducible and videos can be made in parallel. The
scene kinds take turns (video ``i`` is kind ``i % 6``), and each video gets ``tasks_per_video`` questions of
different task types, each with its own cut. Splits are made per video (no video is in two splits), in
proportion within every scene kind; the correct letters are balanced within every split.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ...options import check, check_value, integer, is_number
from ..balance import assign_splits, balanced_positions, place_answer
from ..captions import STATES_KEY
from ..io import save_samples
from ...sample import SPLITS, TASK_TYPES, Sample
from . import constants as C
from .base import Question, Scene, Timing
from .container import Container
from .counter import Counter
from .cyclic import ColorCycle, TrafficLight
from .moving import Moving
from .render import write_mp4
from .slots import Slots

SCENES: dict[str, type[Scene]] = {
    cls.kind: cls for cls in (TrafficLight, ColorCycle, Container, Counter, Moving, Slots)
}
KINDS = tuple(SCENES)
MAX_DRAWS = 500  # scene draws per video before giving up (a few are usually enough)
GENERATOR = "moss_plugins.data.synth/1"


# Bounds of the options: a video's frames are rendered in memory before they are encoded.
MAX_FPS, MAX_SIDE, MAX_DURATION, MAX_VIDEO_BYTES = 60, 1920, 600.0, 2 * 2**30
MAX_VIDEOS, MAX_SEED, MAX_WORKERS = 10**7, 2**63 - 1, 1024


class SynthConfigError(ValueError):
    """A synthesis option out of range (the command line reports it in one line)."""


def _size(value) -> tuple[int, int]:
    sides = value if isinstance(value, (list, tuple)) and len(value) == 2 else ()
    if not sides or not all(
        isinstance(s, int) and not isinstance(s, bool) and 32 <= s <= MAX_SIDE and s % 2 == 0 for s in sides
    ):
        raise ValueError(f"must be WxH with even sides of 32 to {MAX_SIDE} px")
    return tuple(sides)


def _duration(value) -> tuple[float, float]:
    # shorter videos than 6 s leave no room for a full cycle
    span = (
        value if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_number, value)) else ()
    )
    if not span or not 6 <= span[0] <= span[1] <= MAX_DURATION:
        raise ValueError(f"must be LO:HI seconds with 6 <= LO <= HI <= {MAX_DURATION:g}")
    return tuple(span)


def _split_ratio(value) -> dict[str, float]:
    ratios = value.values() if isinstance(value, dict) and not set(value) - set(SPLITS) else ()
    if not all(is_number(r) and 0 <= r < math.inf for r in ratios) or not sum(ratios):
        raise ValueError(f"must be finite weights >= 0 for splits {SPLITS}, not all 0")
    return value


SYNTH_RULES = {
    "tasks_per_video": integer(1, len(TASK_TYPES)),
    "fps": integer(1, MAX_FPS),
    "size": _size,
    "duration": _duration,
    "split_ratio": _split_ratio,
}


@dataclass(frozen=True)
class SynthConfig:
    fps: int = C.DEFAULT_FPS
    size: tuple[int, int] = C.DEFAULT_SIZE  # width, height
    duration: tuple[float, float] = C.DEFAULT_DURATION
    tasks_per_video: int = len(TASK_TYPES)
    split_ratio: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "val": 0.0, "test": 0.2})

    def __post_init__(self):
        check(self, SYNTH_RULES, "--", SynthConfigError)
        # rendered in memory
        frame_bytes = math.ceil(self.duration[1] * self.fps) * self.size[0] * self.size[1] * 3
        if frame_bytes > MAX_VIDEO_BYTES:
            raise SynthConfigError(
                f"--size, --fps and --duration make videos of up to {frame_bytes / 2**30:.1f} GiB "
                f"of frames, rendered in memory (at most {MAX_VIDEO_BYTES / 2**30:g} GiB)"
            )


def video_id(seed: int, index: int) -> str:
    return f"synth-s{seed}-{index:05d}"


def tasks_for(index: int, k: int) -> list[str]:
    """``k`` distinct task types, rotating with the video index so every task type is asked as often."""
    start = (index // len(KINDS)) * k
    return [TASK_TYPES[(start + j) % len(TASK_TYPES)] for j in range(k)]


def make_scene(seed: int, index: int, config: SynthConfig) -> tuple[Scene, list[Question]]:
    """The scene of video ``index`` and its questions (redrawn until every question is answerable)."""
    rng = np.random.default_rng([seed, index])
    kind = KINDS[index % len(KINDS)]
    tasks = tasks_for(index, config.tasks_per_video)
    for _ in range(MAX_DRAWS):
        n_frames = round(rng.uniform(*config.duration) * config.fps)
        scene = SCENES[kind].sample(Timing(config.fps, n_frames, *config.size), rng)
        if scene is None:
            continue
        questions = [scene.question(task, rng) for task in tasks]
        if all(questions):
            return scene, questions
    raise RuntimeError(
        f"no {kind} scene with answerable {tasks} questions in {MAX_DRAWS} draws (seed={seed}, "
        f"video {index}); lengthen the videos (--duration) or lower --fps"
    )


def render_video(index: int, seed: int, config: SynthConfig, out: Path) -> dict:
    """Render and write one video (+ its per-frame states); return what the samples need."""
    scene, questions = make_scene(seed, index, config)
    vid = video_id(seed, index)
    write_mp4(scene.render(), out / "videos" / f"{vid}.mp4", config.fps)
    t = scene.timing
    info = {
        "scene": scene.kind,
        "video_id": vid,
        "fps": t.fps,
        "n_frames": t.n_frames,
        "width": t.width,
        "height": t.height,
        "duration": t.n_frames / t.fps,
        "params": scene.params,
    }
    states_path = out / "videos" / f"{vid}.json"
    states_path.write_text(
        json.dumps({**info, "states": scene.states}, separators=(",", ":")) + "\n", "utf-8"
    )
    return {"info": info, "questions": questions, "timing": t}


def video_splits(n: int, seed: int, ratio: dict[str, float]) -> list[str]:
    """A split per video: exact proportions overall and within every scene kind, random within a kind."""
    rng = np.random.default_rng([seed, 1_000_001])
    split_of = assign_splits([range(k, n, len(KINDS)) for k in range(len(KINDS))], ratio, rng.permutation)
    return [split_of[i] for i in range(n)]


def build_samples(videos: Sequence[dict], splits: Sequence[str], seed: int) -> dict[str, list[Sample]]:
    """Samples per split, options shuffled so each split's correct letters are balanced."""
    per_split: dict[str, list[tuple[dict, Question]]] = {}
    for video, split in zip(videos, splits):
        for q in video["questions"]:
            per_split.setdefault(split, []).append((video, q))
    out = {}
    for k, (split, items) in enumerate(sorted(per_split.items())):
        rng = np.random.default_rng([seed, 2_000_003, k])
        letters = balanced_positions(
            len(items), 4, len(items), rng.permutation
        )  # balanced over the whole split
        samples = []
        for (video, q), pos in zip(items, letters):
            options, answer = place_answer(q.correct, [q.distractors[i] for i in rng.permutation(3)], pos)
            info, timing = video["info"], video["timing"]
            samples.append(
                Sample.from_json(
                    {
                        "id": f"{info['video_id']}-{q.task}",
                        "video": f"videos/{info['video_id']}.mp4",
                        "question": q.text,
                        "options": list(options),
                        "answer": answer,
                        "task_type": q.task,
                        "observed_until": timing.observed_until(q.cut),
                        "trace": [
                            {"t": [round(s.t0, 4), round(s.t1, 4)], "text": s.text, "state": s.state}
                            for s in q.steps
                        ],
                        "split": split,
                        "source": "synthetic",
                        "meta": {
                            **{key: v for key, v in info.items() if key != "params"},
                            "cut_frame": q.cut,
                            "answer_state": q.answer_state,
                            STATES_KEY: f"videos/{info['video_id']}.json",
                            "params": info["params"],
                            "seed": seed,
                            "generator": GENERATOR,
                        },
                    }
                )
            )
        out[split] = samples
    return out


def generate(
    n: int,
    seed: int,
    out: str | Path,
    config: SynthConfig | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Write ``n`` videos and their samples under ``out``; returns {"files", "counts", "seconds", "videos_per_s"}."""
    from tqdm.auto import tqdm

    for name, value, least, most in (
        ("n", n, 1, MAX_VIDEOS),
        ("seed", seed, 0, MAX_SEED),
        ("workers", workers, 1, MAX_WORKERS),
    ):
        check_value("--", name, value, integer(least, most), SynthConfigError)
    config = config or SynthConfig()
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    job = partial(render_video, seed=seed, config=config, out=out)
    bar = {"total": n, "desc": "rendering videos", "unit": "video", "disable": not progress}
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            videos = list(tqdm(pool.map(job, range(n), chunksize=max(1, n // (8 * workers))), **bar))
    else:
        videos = [job(i) for i in tqdm(range(n), **bar)]
    seconds = time.perf_counter() - start
    per_split = build_samples(videos, video_splits(n, seed, config.split_ratio), seed)
    files = {}
    for split in SPLITS:
        if config.split_ratio.get(split, 0) > 0:
            files[split] = save_samples(per_split.get(split, []), out / f"{split}.jsonl")
    return {
        "files": files,
        "counts": {s: len(v) for s, v in per_split.items()},
        "seconds": seconds,
        "videos_per_s": n / seconds,
    }
