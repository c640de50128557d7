"""Scenes whose one discrete state cycles through a fixed sequence: a traffic light and a colour-changing disc.

Regularity the questions rely on: the order of the cycle and each phase's duration never change, and every
question about the future is cut only after each phase has been seen from its start to its end, and after
the start of the phase that is on at the cut.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import ClassVar

import numpy as np

from ...sample import TASK_TYPES
from ..captions import segments
from . import constants as C
from .base import Question, Scene, Step, count_options, distinct, join, order_options, say, secs


class CyclicScene(Scene):
    state_key = "state"
    question_texts: ClassVar[
        dict[str, tuple[str, ...]]
    ] = {}  # task type -> phrasings, one entry per task type

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__ and set(cls.question_texts) != set(TASK_TYPES):
            raise TypeError(
                f"scene kind {cls.kind!r} ({cls.__module__}.{cls.__qualname__}): question_texts has "
                f"{sorted(cls.question_texts)}, needs one entry per task type {TASK_TYPES}"
            )

    def on(self, name: str) -> str:
        """'the red lamp is lit' / 'the disc is red'."""
        raise NotImplementedError

    def extra_option(self, rng: np.random.Generator) -> str:
        """A fourth option when the cycle has fewer than four states."""
        raise NotImplementedError

    # -- state --

    @property
    def cycle(self) -> list[str]:
        return self.params["cycle"]

    def frame_state(self, k: int) -> dict:
        durations = self.params["durations"]
        pos = (sum(durations[: self.params["start_phase"]]) + self.params["start_elapsed"] + k) % sum(
            durations
        )
        for name, d in zip(self.cycle, durations):
            if pos < d:
                return {self.state_key: name}
            pos -= d
        raise AssertionError("unreachable")

    @cached_property
    def _runs(self) -> list[tuple[str, int, int]]:
        return [(v[self.state_key], a, b) for v, a, b in segments(self.states)]

    def names(self, upto: int | None = None) -> list[tuple[str, int, int]]:
        """Runs of the state over frames [0, upto) (upto >= 0): (name, first frame, frame after the last); the runs
        of the whole video are found once, and asked for at every candidate cut."""
        if upto is None:
            return list(self._runs)
        return [(n, a, min(b, upto)) for n, a, b in self._runs if a < upto]

    def regular(self, cut: int) -> bool:
        """Every phase seen whole (start and end visible), and the start of the phase on at the cut."""
        segs = self.names(cut)
        whole = {n for n, a, b in segs[:-1] if a >= 1}
        return whole == set(self.cycle) and segs[-1][1] >= 1

    def duration_of(self, name: str) -> int:
        return self.params["durations"][self.cycle.index(name)]

    def successor(self, name: str) -> str:
        return self.cycle[(self.cycle.index(name) + 1) % len(self.cycle)]

    def options_for(self, correct: str, rng: np.random.Generator) -> tuple[str, ...]:
        pool = [n for n in self.cycle if n != correct]
        rng.shuffle(pool)
        return distinct(pool + [self.extra_option(rng)], correct)

    # -- trace pieces --

    def observe(self, cut: int, rng: np.random.Generator) -> list[Step]:
        steps = []
        for name, a, b in self.names(cut):
            state = {self.state_key: name}
            if b == cut:  # still on at the cut: seen until the last visible frame
                text = say(
                    rng,
                    (
                        "From {a} until the cut (last frame at {l}) {on}.",
                        "Since {a}, {on}; that is what the last visible frame ({l}) shows.",
                        "At {a} it switches and {on} up to the cut at {l}.",
                    ),
                    a=secs(self.t(a)),
                    l=secs(self.t(cut - 1)),
                    on=self.on(name),
                )
                steps.append(Step(self.t(a), self.t(cut - 1), text, state))
            elif a == 0:
                text = say(
                    rng,
                    (
                        "At the start {on}, until {b}.",
                        "The video opens with {on_}, which lasts until {b}.",
                        "From 0 s to {b} {on}.",
                    ),
                    b=secs(self.t(b)),
                    on=self.on(name),
                    on_=self.on(name).replace(" is ", " being ", 1),
                )
                steps.append(Step(0.0, self.t(b), text, state))
            else:
                text = say(
                    rng,
                    (
                        "From {a} to {b} {on} ({d}).",
                        "At {a} {on}, and it stays so until {b} ({d}).",
                        "Between {a} and {b}, {on} - {d} in all.",
                    ),
                    a=secs(self.t(a)),
                    b=secs(self.t(b)),
                    d=secs(self.t(b - a)),
                    on=self.on(name),
                )
                steps.append(Step(self.t(a), self.t(b), text, state))
        return steps

    def rule_step(self, cut: int, rng: np.random.Generator) -> Step:
        durations = {n: secs(self.t(self.duration_of(n))) for n in self.cycle}
        order = " -> ".join(self.cycle + self.cycle[:1])
        if len(set(durations.values())) == 1:
            timing = f"each state lasts {next(iter(durations.values()))}"
        else:
            timing = join([f"{n} {d}" for n, d in durations.items()])
        text = say(
            rng,
            (
                "The pattern repeats: {order}; {timing}.",
                "So the cycle is {order}, with {timing}.",
                "It cycles {order} ({timing}), one full cycle every {total}.",
            ),
            order=order,
            timing=timing,
            total=secs(self.t(sum(self.params["durations"]))),
        )
        return self.at_cut(
            cut,
            text,
            {"cycle": list(self.cycle), "durations_s": {n: self.t(self.duration_of(n)) for n in self.cycle}},
        )

    def q(self, task: str, rng: np.random.Generator, **values) -> str:
        return say(rng, self.question_texts[task], **values)

    # -- questions --

    def ask_state_at_cut(self, rng):
        cut = self.pick_cut(rng, lambda c: len(self.names(c)) >= 2)
        if cut is None:
            return None
        name = self.states[cut - 1][self.state_key]
        steps = self.observe(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    ("So in the last frame before the cut, {on}.", "Therefore, at the cut ({l}) {on}."),
                    on=self.on(name),
                    l=secs(self.t(cut - 1)),
                ),
                {self.state_key: name},
            )
        ]
        return Question(
            "state_at_cut",
            cut,
            self.q("state_at_cut", rng),
            name,
            self.options_for(name, rng),
            tuple(steps),
            {self.state_key: name},
        )

    def ask_next_state(self, rng):
        def ok(c):
            return self.regular(c) and self.names()[len(self.names(c)) - 1][2] < self.timing.n_frames

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        current = self.states[cut - 1][self.state_key]
        nxt = self.successor(current)
        steps = self.observe(cut, rng) + [
            self.rule_step(cut, rng),
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "{cur} at the cut, and {cur_name} is always followed by {nxt}, so {nxt} comes next.",
                        "After {cur_name} the cycle goes to {nxt}: when it switches after the cut, {on}.",
                    ),
                    cur=self.on(current).capitalize(),
                    cur_name=current,
                    nxt=nxt,
                    on=self.on(nxt),
                ),
                {self.state_key: nxt},
            ),
        ]
        return Question(
            "next_state",
            cut,
            self.q("next_state", rng),
            nxt,
            self.options_for(nxt, rng),
            tuple(steps),
            {self.state_key: nxt},
        )

    def ask_final_state(self, rng):
        last = self.timing.last
        if self.states[last] != self.states[last - 1]:  # the last frame would sit right on a switch
            return None
        cut = self.pick_cut(rng, self.regular)
        if cut is None:
            return None
        name = self.states[last][self.state_key]
        current, start, _ = self.names(cut)[-1]
        end = start + self.duration_of(current)
        future, t, n = [], end, self.successor(current)
        while t <= last:
            future.append(f"{n} from {secs(self.t(t))}")
            t, n = t + self.duration_of(n), self.successor(n)
        steps = self.observe(cut, rng) + [
            self.rule_step(cut, rng),
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "The {cur} phase began at {a} and lasts {d}, so it ends at {e}.",
                        "{cur_cap} started at {a}; with {d} per {cur} phase it runs until {e}.",
                    ),
                    cur=current,
                    cur_cap=current.capitalize(),
                    a=secs(self.t(start)),
                    d=secs(self.t(self.duration_of(current))),
                    e=secs(self.t(end)),
                ),
                {self.state_key: current, "until_s": self.t(end)},
            ),
        ]
        if future:
            steps.append(
                self.at_cut(
                    cut,
                    say(rng, ("Continuing the cycle: {f}.", "After that comes {f}."), f=join(future, "then")),
                    {"predicted": future},
                )
            )
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    ("So in the last frame, at {l}, {on}.", "Hence at {l}, the end of the video, {on}."),
                    l=secs(self.t(last)),
                    on=self.on(name),
                ),
                {self.state_key: name, "predicted": True},
            )
        )
        question = self.q("final_state", rng, total=secs(self.t(self.timing.n_frames)), l=secs(self.t(last)))
        return Question(
            "final_state",
            cut,
            question,
            name,
            self.options_for(name, rng),
            tuple(steps),
            {self.state_key: name},
        )

    def ask_change_count(self, rng):
        cut = self.pick_cut(rng, lambda c: len(self.names(c)) >= 2)
        if cut is None:
            return None
        segs = self.names(cut)
        steps = [
            Step(
                0.0,
                0.0,
                say(rng, ("At the start {on}.", "First, {on}."), on=self.on(segs[0][0])),
                {self.state_key: segs[0][0]},
            )
        ]
        for k, ((prev, _, _), (name, a, _)) in enumerate(itertools.pairwise(segs), 1):
            text = say(
                rng,
                (
                    "Change {k} at {a}: {prev} to {name}.",
                    ("At {a} it switches from {prev} to {name} (change {k})."),
                    "{a}: {name} replaces {prev} - that is change {k}.",
                ),
                k=k,
                a=secs(self.t(a)),
                prev=prev,
                name=name,
            )
            steps.append(Step(self.t(a), self.t(a), text, {self.state_key: name, "changes": k}))
        count = len(segs) - 1
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "No other change happens before the cut at {l}, so {n} in all.",
                        "Up to the cut ({l}) that makes {n} changes.",
                    ),
                    l=secs(self.t(cut - 1)),
                    n=count,
                ),
                {"changes": count},
            )
        )
        options = count_options(count, rng)
        return Question(
            "change_count",
            cut,
            self.q("change_count", rng),
            str(count),
            options,
            tuple(steps),
            {"changes": count},
        )

    def ask_event_order(self, rng):
        cut = self.pick_cut(rng, lambda c: len(self.names(c)) >= 3)
        if cut is None:
            return None
        first = [n for n, _, _ in self.names(cut)[:3]]
        correct, distractors = order_options(first, rng, sep=", then ")
        steps = self.observe(cut, rng)[:3] + [
            self.at_cut(
                cut,
                say(rng, ("So the order is {o}.", "Reading them in time order: {o}."), o=correct),
                {"order": first},
            )
        ]
        return Question(
            "event_order",
            cut,
            self.q("event_order", rng),
            correct,
            distractors,
            tuple(steps),
            {"order": first},
        )


class TrafficLight(CyclicScene):
    kind = "traffic_light"
    state_key = "light"
    question_texts: ClassVar[dict[str, tuple[str, ...]]] = {
        "state_at_cut": (
            "Which lamp of the traffic light is lit in the last frame before the video is cut?",
            "When the video stops, which light is on?",
        ),
        "next_state": (
            (
                "The traffic light keeps running after the video is cut. Which lamp will light up next, "
                "when the current one goes off?"
            ),
            "After the cut, which light will the traffic light switch to next?",
        ),
        "final_state": (
            (
                "The full video lasts {total}. Which lamp of the traffic light is lit in its last frame, "
                "at {l}?"
            ),
            (
                "The traffic light keeps its rhythm after the cut. Which light is on at {l}, "
                "the end of the {total} video?"
            ),
        ),
        "change_count": (
            (
                "How many times does the traffic light switch from one lamp to another before the video "
                "is cut?"
            ),
            "Before the cut, how many light changes does the traffic light make?",
        ),
        "event_order": (
            "From the start of the video, in which order do the first three lights come on?",
            "Which sequence of lights does the traffic light show first?",
        ),
    }

    @classmethod
    def sample(cls, timing, rng):
        seconds = {
            "red": rng.uniform(1.25, 2.5),
            "green": rng.uniform(1.25, 2.5),
            "yellow": rng.uniform(0.5, 1.0),
        }
        durations = [timing.frames(seconds[n]) for n in C.TRAFFIC_CYCLE]
        start = int(rng.integers(3))
        params = {
            "cycle": list(C.TRAFFIC_CYCLE),
            "durations": durations,
            "start_phase": start,
            "start_elapsed": int(rng.integers(durations[start])),
        }
        return cls(timing, params)

    def on(self, name):
        return f"the {name} lamp is lit"

    def extra_option(self, rng):
        return "none (all lamps off)"

    def draw(self, canvas, k):
        canvas.rect(*C.TRAFFIC_HOUSING, fill=C.HOUSING, outline=C.OUTLINE)
        lit = self.states[k]["light"]
        for name, y in C.TRAFFIC_LAMPS.items():
            canvas.disc(0.5, y, C.TRAFFIC_LAMP_R, C.PALETTE[name] if name == lit else C.UNLIT)


class ColorCycle(CyclicScene):
    kind = "color_cycle"
    state_key = "color"
    question_texts: ClassVar[dict[str, tuple[str, ...]]] = {
        "state_at_cut": (
            "What colour is the disc in the last frame before the video is cut?",
            "When the video stops, what colour is the disc?",
        ),
        "next_state": (
            "The disc keeps changing colour after the video is cut. What colour will it turn next?",
            "After the cut, which colour will the disc take next?",
        ),
        "final_state": (
            "The full video lasts {total}. What colour is the disc in its last frame, at {l}?",
            (
                "The disc keeps its rhythm after the cut. What colour is it at {l}, the end of the "
                "{total} video?"
            ),
        ),
        "change_count": (
            "How many times does the disc change colour before the video is cut?",
            "Before the cut, how many colour changes does the disc go through?",
        ),
        "event_order": (
            "From the start of the video, in which order does the disc show its first three colours?",
            "Which sequence of colours does the disc show first?",
        ),
    }

    @classmethod
    def sample(cls, timing, rng):
        m = int(rng.integers(3, 5))
        cycle = [str(c) for c in rng.choice(list(C.PALETTE), size=m, replace=False)]
        period = timing.frames(rng.uniform(1.0, 2.0))
        start = int(rng.integers(m))
        params = {
            "cycle": cycle,
            "durations": [period] * m,
            "start_phase": start,
            "start_elapsed": int(rng.integers(period)),
        }
        return cls(timing, params)

    def on(self, name):
        return f"the disc is {name}"

    def extra_option(self, rng):
        unused = [c for c in C.PALETTE if c not in self.cycle]
        return str(rng.choice(unused))

    def draw(self, canvas, k):
        canvas.disc(*C.DISC_CENTER, C.DISC_R, C.PALETTE[self.states[k]["color"]])
