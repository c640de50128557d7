"""Three shapes sliding along one band at constant speeds; when two pass, the one drawn in front hides the other.

Regularity the questions rely on: every speed is constant, so positions read at the start and at the cut give
every later position and every later meeting.
"""

from __future__ import annotations

import itertools
import math
from functools import cached_property

from . import constants as C
from .base import Event, Question, Scene, Step, count_options, distinct, order_options, say, secs

NONE_AGAIN = "no two of them pass each other again before the video ends"


class Moving(Scene):
    kind = "moving"

    @classmethod
    def sample(cls, timing, rng):
        duration = timing.t(timing.n_frames)
        shapes = [str(s) for s in rng.permutation(C.MOVING_SHAPES)]
        colors = [str(c) for c in rng.choice(list(C.PALETTE), size=3, replace=False)]
        objects = []
        fastest = min(0.12, 0.7 / duration)  # no shape travels more than 70% of the width in the whole video
        for shape, color in zip(shapes, colors):
            v = float(rng.uniform(fastest / 4, fastest) * rng.choice([-1, 1]))
            lo, hi = (0.12, 0.88 - v * duration) if v > 0 else (0.12 - v * duration, 0.88)
            if lo >= hi:
                return None
            objects.append(
                {"shape": shape, "color": color, "x0": round(float(rng.uniform(lo, hi)), 4), "v": round(v, 4)}
            )
        scene = cls(timing, {"objects": objects})
        times = sorted(scene.meeting_time(i, j) for i, j in itertools.combinations(range(3), 2))
        times = [t for t in times if 0 < t < duration]
        if not times or any(b - a < 1.0 for a, b in itertools.pairwise(times)):
            return None
        return scene

    # -- geometry --

    def name(self, i: int) -> str:
        o = self.params["objects"][i]
        return f"{o['color']} {o['shape']}"

    def x(self, i: int, t: float) -> float:
        o = self.params["objects"][i]
        return o["x0"] + o["v"] * t

    def meeting_time(self, i: int, j: int) -> float:
        a, b = self.params["objects"][i], self.params["objects"][j]
        return float("inf") if a["v"] == b["v"] else (b["x0"] - a["x0"]) / (a["v"] - b["v"])

    def order(self, k: int) -> list[str]:
        return [self.name(i) for i in sorted(range(3), key=lambda i: self.x(i, self.t(k)))]

    def frame_state(self, k):
        t = self.t(k)
        half = C.MOVING_SIZE / 2
        hidden = [
            self.name(i)
            for i in range(3)
            if any(abs(self.x(i, t) - self.x(j, t)) < half for j in range(i + 1, 3))
        ]
        return {
            "order": self.order(k),
            "x": {self.name(i): round(self.x(i, t), 3) for i in range(3)},
            "hidden": hidden,
        }

    def draw(self, canvas, k):
        canvas.rect(0.5 - 1 / canvas.width, 0.15, 0.5 + 1 / canvas.width, 0.85, fill=C.SLOT)
        hw, hh = C.MOVING_SIZE / 2, C.MOVING_SIZE / 2 * canvas.width / canvas.height
        y = C.MOVING_Y
        for i, o in enumerate(self.params["objects"]):  # back to front
            x, color = self.x(i, self.t(k)), C.PALETTE[o["color"]]
            if o["shape"] == "circle":
                canvas.disc(x, y, hw * canvas.width / min(canvas.width, canvas.height), color)
            elif o["shape"] == "square":
                canvas.rect(x - hw, y - hh, x + hw, y + hh, fill=color)
            else:
                canvas.polygon([(x - hw, y + hh), (x + hw, y + hh), (x, y - hh)], color)

    # -- events --

    @cached_property
    def meetings(self) -> list[Event]:
        """Every pass of two shapes in the video (found once: every candidate cut asks for them)."""
        out = []
        for i, j in itertools.combinations(range(3), 2):
            t = self.meeting_time(i, j)
            if not 0 < t < math.inf:  # met before the video, or never (equal speeds)
                continue
            frame = int(-(-t * self.timing.fps // 1))  # first frame at or after the meeting
            if frame <= self.timing.last:
                front, back = self.name(j), self.name(i)  # j is drawn later: in front
                out.append(
                    Event(
                        frame,
                        f"the {front} passes in front of the {back}",
                        f"{front} meets {back}",
                        {"pair": sorted([front, back]), "front": front},
                    )
                )
        return sorted(out, key=lambda e: e.frame)

    def midline_crossings(self) -> list[Event]:
        out = []
        for i, o in enumerate(self.params["objects"]):
            t = (0.5 - o["x0"]) / o["v"]
            frame = int(-(-t * self.timing.fps // 1))
            if 0 < t and frame <= self.timing.last:
                out.append(
                    Event(
                        frame,
                        f"the {self.name(i)} crosses the middle line",
                        f"{self.name(i)} crosses the middle",
                        {"crosses_middle": self.name(i)},
                    )
                )
        return out

    def calm(self, frame: int, before: int = 2, after: int = 1) -> bool:
        """No meeting within a few frames of ``frame``, so the left-to-right order there is plain to see."""
        return all(not frame - before <= e.frame <= frame + after for e in self.meetings)

    def pair_text(self, names: list[str]) -> str:
        return f"the {names[0]} and the {names[1]}"

    # -- trace pieces --

    def motion_steps(self, cut: int, rng) -> list[Step]:
        steps = []
        b = cut - 1
        for i in range(3):
            xa, xb = self.x(i, 0.0), self.x(i, self.t(b))
            speed = abs(xb - xa) / self.t(b)
            text = say(
                rng,
                (
                    (
                        "The {n} moves {d}: from {a}% to {b}% of the width between 0 s and {tb}, about {s}% "
                        "per second."
                    ),
                    (
                        "Between 0 s and {tb} the {n} slides {d} from {a}% to {b}% of the "
                        "width ({s}% a second)."
                    ),
                    (
                        "The {n} goes {d} at a steady {s}% of the width per second "
                        "({a}% at 0 s, {b}% at {tb})."
                    ),
                ),
                n=self.name(i),
                d="right" if xb > xa else "left",
                a=round(xa * 100),
                b=round(xb * 100),
                tb=secs(self.t(b)),
                s=f"{speed * 100:.1f}",
            )
            steps.append(
                Step(
                    0.0,
                    self.t(b),
                    text,
                    {"object": self.name(i), "x": round(xb, 3), "speed_per_s": round(speed, 4)},
                )
            )
        return steps

    def history_steps(self, cut: int, rng) -> list[Step]:
        steps = [
            Step(
                0.0,
                0.0,
                say(
                    rng,
                    ("At the start the order from left to right is {o}.", "First frame, left to right: {o}."),
                    o=", ".join(self.order(0)),
                ),
                {"order": self.order(0)},
            )
        ]
        for e in self.meetings:
            if e.frame < cut:
                steps.append(
                    Step(
                        self.t(e.frame),
                        self.t(e.frame),
                        say(
                            rng,
                            ("Around {t} {e}.", "At about {t} {e}, hiding it for a moment.", "{T} {e}."),
                            t=secs(self.t(e.frame)),
                            T=f"Near {secs(self.t(e.frame))}",
                            e=e.text,
                        ),
                        e.state,
                    )
                )
        return steps

    # -- questions --

    def ask_state_at_cut(self, rng):
        cut = self.pick_cut(rng, lambda c: self.calm(c - 1))
        if cut is None:
            return None
        order = self.order(cut - 1)
        correct, distractors = order_options(order, rng)
        steps = self.history_steps(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "So in the last frame ({t}) the order from left to right is {o}.",
                        "At the cut ({t}), left to right: {o}.",
                    ),
                    t=secs(self.t(cut - 1)),
                    o=correct,
                ),
                {"order": order},
            )
        ]
        question = say(
            rng,
            (
                (
                    "In the last frame before the video is cut, what is the order of the shapes from left "
                    "to right?"
                ),
                "When the video stops, how are the shapes ordered from left to right?",
            ),
        )
        return Question("state_at_cut", cut, question, correct, distractors, tuple(steps), {"order": order})

    def ask_next_state(self, rng):
        meetings = self.meetings
        last = self.timing.last

        def ok(c):
            future = [e.frame for e in meetings if e.frame >= c]
            if not self.calm(c - 1) or (future and (future[0] < c + 2 or future[0] > last - 2)):
                return False
            return len(future) < 2 or future[1] - future[0] >= 4

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        future = [e for e in meetings if e.frame >= cut]
        answer = self.pair_text(future[0].state["pair"]) if future else NONE_AGAIN
        t_cut = self.t(cut - 1)
        steps = self.motion_steps(cut, rng)
        for i, j in itertools.combinations(range(3), 2):
            gap = self.x(j, t_cut) - self.x(i, t_cut)
            closing = (self.params["objects"][i]["v"] - self.params["objects"][j]["v"]) * (
                1 if gap > 0 else -1
            )
            pair = self.pair_text(sorted([self.name(i), self.name(j)]))
            if closing <= 0:
                text = say(
                    rng,
                    (
                        "{P} are moving apart, so they do not meet again.",
                        "{P} get farther apart: no meeting ahead.",
                    ),
                    P=pair.capitalize(),
                )
                state = {"pair": sorted([self.name(i), self.name(j)]), "meets_at_s": None}
            else:
                eta = t_cut + abs(gap) / closing
                text = say(
                    rng,
                    (
                        (
                            "{P} are {g}% of the width apart and close in at {c}% per second: they meet at about "
                            "{eta}."
                        ),
                        "{P} close a gap of {g}% at {c}% a second, meeting near {eta}.",
                    ),
                    P=pair.capitalize(),
                    g=round(abs(gap) * 100),
                    c=f"{closing * 100:.1f}",
                    eta=secs(round(eta * 4) / 4),
                )
                if eta > self.t(last):
                    text += f" That is after the video ends at {secs(self.t(last))}."
                state = {"pair": sorted([self.name(i), self.name(j)]), "meets_at_s": round(eta, 2)}
            steps.append(self.at_cut(cut, text, state))
        steps.append(
            self.at_cut(
                cut,
                say(rng, ("So the next meeting is: {a}.", "The first of these: {a}."), a=answer),
                {"next": answer},
            )
        )
        pairs = [
            self.pair_text(sorted([self.name(i), self.name(j)]))
            for i, j in itertools.combinations(range(3), 2)
        ]
        rng.shuffle(pairs)
        options = distinct(pairs + [NONE_AGAIN], answer)
        question = say(
            rng,
            (
                (
                    "The shapes keep moving at the same speeds after the video is cut. Which two of them "
                    "pass each other next?"
                ),
                "After the cut, which pair of shapes meets next?",
            ),
        )
        return Question("next_state", cut, question, answer, options, tuple(steps), {"next": answer})

    def ask_final_state(self, rng):
        last = self.timing.last
        if not self.calm(last, before=2, after=0):
            return None
        cut = self.pick_cut(rng, lambda c: self.calm(c - 1))
        if cut is None:
            return None
        order = self.order(last)
        steps = self.motion_steps(cut, rng)
        where = ", ".join(
            f"the {self.name(i)} at about {round(self.x(i, self.t(last)) * 100)}%" for i in range(3)
        )
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    ("Keeping these speeds, at {l} {w}.", "Extrapolating to {l}: {w}."),
                    l=secs(self.t(last)),
                    w=where,
                ),
                {"x": {self.name(i): round(self.x(i, self.t(last)), 3) for i in range(3)}},
            )
        )
        correct, distractors = order_options(order, rng)
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "So at the end the order from left to right is {o}.",
                        "Left to right in the last frame: {o}.",
                    ),
                    o=correct,
                ),
                {"order": order},
            )
        )
        question = say(
            rng,
            (
                (
                    "The full video lasts {D}. What is the order of the shapes from left to right in its last "
                    "frame, at {l}?"
                ),
                (
                    "The shapes keep their speeds after the cut. How are they ordered "
                    "from left to right at {l}, the end of the video?"
                ),
            ),
            D=secs(self.t(self.timing.n_frames)),
            l=secs(self.t(last)),
        )
        return Question("final_state", cut, question, correct, distractors, tuple(steps), {"order": order})

    def ask_change_count(self, rng):
        cut = self.pick_cut(rng, lambda c: self.calm(c - 1, before=2, after=2))
        if cut is None:
            return None
        count = sum(e.frame < cut for e in self.meetings)
        steps = self.history_steps(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "No other pass happens before the cut, so {n} in all.",
                        "That makes {n} passes before the cut.",
                    ),
                    n=count,
                ),
                {"passes": count},
            )
        ]
        question = say(
            rng,
            (
                "How many times do two of the shapes pass each other before the video is cut?",
                "Before the cut, how many passes (one shape going by another) are there?",
            ),
        )
        options = count_options(count, rng, 0, 3)
        return Question("change_count", cut, question, str(count), options, tuple(steps), {"passes": count})

    def ask_event_order(self, rng):
        return self.event_order_question(
            self.meetings + self.midline_crossings(),
            (
                "In which order do these happen in the video: {events}?",
                "Order these events as they happen: {events}.",
            ),
            rng,
        )
