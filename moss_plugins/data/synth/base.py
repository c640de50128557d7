"""What every synthetic scene kind shares: timing, questions with reference traces, option and text helpers.

A scene kind subclasses :class:`Scene`: ``sample`` draws random parameters (or returns None to be redrawn),
``frame_state`` gives the exact state at a frame, ``draw`` renders it, and ``ask_<task_type>`` writes one
question with its cut, options and reference trace (or returns None when no cut makes it answerable). A kind
answers every task type of :data:`~moss_plugins.sample.TASK_TYPES`: a class that misses one, or has an asker for
a task type that does not exist, is refused when it is defined, not when a question is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...sample import TASK_TYPES
from ..captions import secs
from .render import Canvas


@dataclass(frozen=True)
class Timing:
    fps: int
    n_frames: int
    width: int
    height: int

    def t(self, frame: int) -> float:
        return frame / self.fps

    @property
    def last(self) -> int:
        return self.n_frames - 1

    def observed_until(self, cut: int) -> float:
        """``cut`` frames visible: halfway between the last visible frame and the first masked one."""
        return (cut - 0.5) / self.fps

    def frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))


@dataclass(frozen=True)
class Step:
    t0: float
    t1: float
    text: str
    state: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    task: str
    cut: int  # number of visible frames
    text: str
    correct: str
    distractors: tuple[str, ...]
    steps: tuple[Step, ...]
    answer_state: dict

    def __post_init__(self):
        texts = [self.correct, *self.distractors]
        if len(self.distractors) != 3 or len({t.strip().lower() for t in texts}) != 4:
            raise AssertionError(f"a question needs one answer and 3 distinct distractors, got {texts}")


class Scene:
    kind: ClassVar[str]
    askers: ClassVar[
        dict[str, Callable[[Scene, np.random.Generator], Question | None]]
    ]  # task type -> ask_<task>

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:  # a family of kinds (CyclicScene): each kind in it is checked
            return
        where = f"scene kind {cls.kind!r} ({cls.__module__}.{cls.__qualname__})"
        missing = [t for t in TASK_TYPES if not callable(getattr(cls, f"ask_{t}", None))]
        if missing:
            raise TypeError(
                f"{where} has no {', '.join(f'ask_{t}' for t in missing)}: every scene kind asks every "
                f"task type of moss_plugins.sample.TASK_TYPES {TASK_TYPES}"
            )
        unknown = [n for n in dir(cls) if n.startswith("ask_") and n.removeprefix("ask_") not in TASK_TYPES]
        if unknown:
            raise TypeError(
                f"{where}: {', '.join(unknown)} asks no task type of moss_plugins.sample.TASK_TYPES "
                f"{TASK_TYPES}; rename it or add the task type there"
            )
        cls.askers = {t: getattr(cls, f"ask_{t}") for t in TASK_TYPES}

    def __init__(self, timing: Timing, params: dict):
        self.timing, self.params = timing, params
        self.states = [self.frame_state(k) for k in range(timing.n_frames)]

    @classmethod
    def sample(cls, timing: Timing, rng: np.random.Generator) -> Scene | None:
        raise NotImplementedError

    def frame_state(self, k: int) -> dict:
        raise NotImplementedError

    def draw(self, canvas: Canvas, k: int) -> None:
        raise NotImplementedError

    def render(self) -> np.ndarray:
        frames = []
        for k in range(self.timing.n_frames):
            canvas = Canvas(self.timing.width, self.timing.height)
            self.draw(canvas, k)
            frames.append(canvas.array())
        return np.stack(frames)

    def question(self, task: str, rng: np.random.Generator) -> Question | None:
        if task not in self.askers:
            raise ValueError(f"{task!r} is not a task type; known: {list(TASK_TYPES)}")
        return self.askers[task](self, rng)

    # -- helpers for subclasses --

    def cut_range(self, min_hidden_s: float = 1.5) -> range:
        """Cuts that show at least 30% of the video and hide at least ``min_hidden_s`` seconds."""
        n = self.timing.n_frames
        return range(math.ceil(0.3 * n), n - self.timing.frames(min_hidden_s) + 1)

    def pick_cut(
        self, rng: np.random.Generator, ok: Callable[[int], bool], min_hidden_s: float = 1.5
    ) -> int | None:
        cuts = [c for c in self.cut_range(min_hidden_s) if ok(c)]
        return int(rng.choice(cuts)) if cuts else None

    def t(self, frame: int) -> float:
        return self.timing.t(frame)

    def at_cut(self, cut: int, text: str, state: dict) -> Step:
        """An inference step: made at the cut, from everything seen before it."""
        return Step(self.t(cut - 1), self.timing.observed_until(cut), text, state)

    def event_order_question(
        self, events: list[Event], templates: Sequence[str], rng: np.random.Generator, min_gap_s: float = 0.75
    ) -> Question | None:
        """Order of three events seen before the cut, at least ``min_gap_s`` apart (so the order is visible)."""
        gap = self.timing.frames(min_gap_s)
        events = sorted(events, key=lambda e: e.frame)

        def chosen(cut):
            seen = [e for e in events if e.frame < cut]
            picks = []
            for e in seen:
                if not picks or e.frame - picks[-1].frame >= gap:
                    picks.append(e)
            return picks

        cut = self.pick_cut(rng, lambda c: len(chosen(c)) >= 3)
        if cut is None:
            return None
        seen = chosen(cut)
        start = int(rng.integers(len(seen) - 2))
        picks = seen[start : start + 3]
        shuffled = [picks[i] for i in rng.permutation(3)]
        steps = [
            Step(
                self.t(e.frame),
                self.t(e.frame),
                say(
                    rng,
                    ("At {t} {e}.", "{T} {e}.", "Around {t}, {e}."),
                    t=secs(self.t(e.frame)),
                    T=f"{secs(self.t(e.frame))}:",
                    e=e.text,
                ),
                e.state,
            )
            for e in picks
        ]
        correct, distractors = order_options([e.short for e in picks], rng, sep="; then ")
        steps.append(
            self.at_cut(
                cut,
                say(rng, ("So the order is: {o}.", "In time order: {o}."), o=correct),
                {"order": [e.short for e in picks]},
            )
        )
        listed = "; ".join(e.short for e in shuffled)
        return Question(
            "event_order",
            cut,
            say(rng, templates, events=listed),
            correct,
            distractors,
            tuple(steps),
            {"order": [e.short for e in picks]},
        )


@dataclass(frozen=True)
class Event:
    frame: int  # first frame that shows it
    text: str  # for the trace: "the red tank's level passes the 1/2 mark"
    short: str  # for the options: "red tank passes 1/2"
    state: dict = field(default_factory=dict)


def say(rng: np.random.Generator, templates: Sequence[str], **values: Any) -> str:
    """One of several phrasings, so reference traces do not all read alike."""
    return templates[int(rng.integers(len(templates)))].format(**values)


def join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def distinct(candidates: Sequence[str], correct: str, n: int = 3) -> tuple[str, ...] | None:
    """The first ``n`` candidates that differ from ``correct`` and each other (None if there are fewer)."""
    out: list[str] = []
    for c in candidates:
        if c.strip().lower() != correct.strip().lower() and c.lower() not in (o.lower() for o in out):
            out.append(c)
            if len(out) == n:
                return tuple(out)
    return None


def window(center: int, rng: np.random.Generator, lo: int = 0, hi: int = 10**6) -> list[int]:
    """Four consecutive integers in [lo, hi] holding ``center`` at a random place (fewer if [lo, hi] is
    narrower). Distractors drawn from it are off by one to three, and the correct value is not always the
    middle one, so a model cannot pick it by its rank among the options."""
    r_min, r_max = max(0, 3 - (hi - center)), min(3, center - lo)
    r = int(rng.integers(r_min, r_max + 1)) if r_min <= r_max else max(r_max, 0)
    return [v for v in range(center - r, center - r + 4) if lo <= v <= hi]


def near_counts(value: int, rng: np.random.Generator, lo: int = 0, hi: int = 10**6) -> list[int]:
    """Counts for distractors: the rest of a random window around ``value``, then values further out."""
    return [v for v in window(value, rng, lo, hi) if v != value] + [
        v for d in range(4, 8) for v in (value - d, value + d) if lo <= v <= hi
    ]


def count_options(
    value: int, rng: np.random.Generator, lo: int = 0, hi: int = 10**6
) -> tuple[str, ...] | None:
    return distinct([str(v) for v in near_counts(value, rng, lo, hi)], str(value))


def order_options(
    order: Sequence[str], rng: np.random.Generator, sep: str = ", "
) -> tuple[str, tuple[str, ...]]:
    """(correct text, 3 distractor texts) for the order of three items.

    The six orders of three items form a ring in which neighbours differ by one swap of adjacent items; the
    options are four consecutive orders of that ring, the correct one at a random place. So every distractor
    is a plausible slip (a swap or two away), and no option stands out by how close it is to the others."""
    if len(order) != 3:
        raise ValueError(f"order_options takes three items, got {len(order)}")
    ring, p = [], tuple(order)
    for k in range(6):
        ring.append(p)
        i = k % 2
        p = p[:i] + (p[i + 1], p[i]) + p[i + 2 :]
    r = int(rng.integers(4))
    texts = [sep.join(ring[(i - r) % 6]) for i in range(4) if i != r]
    return sep.join(order), tuple(texts)
