"""A two-digit seven-segment counter that changes at a fixed period by a fixed pattern of steps.

The pattern is one step (e.g. +3 every 1.5 s) or two alternating steps (e.g. +4, -1, +4, -1, ...).
Regularity the questions rely on: questions about the future are cut only after the whole step pattern has
been seen at least once after a first full period, so the period, the steps and the phase are all visible.
"""

from __future__ import annotations

from . import constants as C
from .base import Event, Question, Scene, Step, count_options, distinct, join, say, secs, window


def _fmt(v: int) -> str:
    return f"{v:02d}"


class Counter(Scene):
    kind = "counter"

    @classmethod
    def sample(cls, timing, rng):
        period = timing.frames(rng.uniform(0.75, 1.75))
        if rng.random() < 0.5:
            steps = [int(rng.choice([-3, -2, -1, 1, 2, 3, 4, 5]))]
        else:
            a = int(rng.integers(2, 6))
            steps = [a, -int(rng.integers(1, a))] if rng.random() < 0.5 else [-a, int(rng.integers(1, a))]
        params = {
            "color": str(rng.choice(list(C.PALETTE))),
            "start": int(rng.integers(10, 90)),
            "steps": steps,
            "period": period,
            "first": int(rng.integers(1, period + 1)),
        }
        scene = cls(timing, params)
        values = [s["value"] for s in scene.states]
        return scene if 0 <= min(values) and max(values) <= 99 else None

    def change_frames(self) -> list[int]:
        return list(range(self.params["first"], self.timing.n_frames, self.params["period"]))

    def value_after(self, n_changes: int) -> int:
        steps = self.params["steps"]
        return self.params["start"] + sum(steps[j % len(steps)] for j in range(n_changes))

    def frame_state(self, k):
        return {"value": self.value_after(sum(f <= k for f in self.change_frames()))}

    def draw(self, canvas, k):
        value = self.states[k]["value"]
        color = C.PALETTE[self.params["color"]]
        for (x0, y0, x1, y1), digit in zip(C.DIGIT_BOXES, divmod(value, 10)):
            th = C.SEGMENT_WIDTH * (x1 - x0)
            tv = th * canvas.width / canvas.height
            ym = (y0 + y1) / 2
            boxes = {
                "a": (x0 + th, y0, x1 - th, y0 + tv),
                "b": (x1 - th, y0 + tv, x1, ym),
                "c": (x1 - th, ym, x1, y1 - tv),
                "d": (x0 + th, y1 - tv, x1 - th, y1),
                "e": (x0, ym, x0 + th, y1 - tv),
                "f": (x0, y0 + tv, x0 + th, ym),
                "g": (x0 + th, ym - tv / 2, x1 - th, ym + tv / 2),
            }
            for seg, box in boxes.items():
                canvas.rect(*box, fill=color if seg in C.SEGMENTS[digit] else C.UNLIT)

    # -- helpers --

    def changes_before(self, cut: int) -> list[int]:
        return [f for f in self.change_frames() if f < cut]

    def regular(self, cut: int) -> bool:
        """The period and the whole step pattern are visible: enough changes after a first full period."""
        return len(self.changes_before(cut)) >= len(self.params["steps"]) + 1

    def value(self, k: int) -> int:
        return self.states[k]["value"]

    def change_steps(self, cut: int, rng) -> list[Step]:
        steps = [
            Step(
                0.0,
                0.0,
                say(
                    rng,
                    ("At the start the display shows {v}.", "The counter starts at {v}."),
                    v=_fmt(self.value(0)),
                ),
                {"value": self.value(0)},
            )
        ]
        for n, f in enumerate(self.changes_before(cut), 1):
            before, after = self.value(f - 1), self.value(f)
            steps.append(
                Step(
                    self.t(f),
                    self.t(f),
                    say(
                        rng,
                        (
                            "At {t} it changes from {a} to {b} ({d:+d}).",
                            "{T} {a} becomes {b}, a step of {d:+d}.",
                            "Change {n} at {t}: {b} (was {a}).",
                        ),
                        t=secs(self.t(f)),
                        T=secs(self.t(f)) + ":",
                        a=_fmt(before),
                        b=_fmt(after),
                        d=after - before,
                        n=n,
                    ),
                    {"value": after},
                )
            )
        return steps

    def rule_step(self, cut: int, rng) -> Step:
        steps = self.params["steps"]
        pattern = (
            f"{steps[0]:+d} each time"
            if len(steps) == 1
            else join([f"{s:+d}" for s in steps], "then") + ", alternating"
        )
        text = say(
            rng,
            ("It changes every {p}, by {pat}.", "So the rule is: one change every {p}, {pat}."),
            p=secs(self.t(self.params["period"])),
            pat=pattern,
        )
        return self.at_cut(cut, text, {"period_s": self.t(self.params["period"]), "steps": list(steps)})

    def value_options(self, n_changes: int, rng) -> tuple[str, ...] | None:
        """Distractors for the value after ``n_changes`` changes: the values one to three changes away (a
        miscounted period), then values one off (a misread digit)."""
        correct = self.value_after(n_changes)
        values = [self.value_after(i) for i in window(n_changes, rng)]
        values += [correct + d for d in (1, -1, 2, -2, 10, -10)]
        return distinct([_fmt(v) for v in values if 0 <= v <= 99], _fmt(correct))

    # -- questions --

    def ask_state_at_cut(self, rng):
        cut = self.pick_cut(rng, lambda c: len(self.changes_before(c)) >= 1)
        if cut is None:
            return None
        v = self.value(cut - 1)
        steps = self.change_steps(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "So the last frame before the cut ({t}) shows {v}.",
                        "At the cut ({t}) the display reads {v}.",
                    ),
                    t=secs(self.t(cut - 1)),
                    v=_fmt(v),
                ),
                {"value": v},
            )
        ]
        question = say(
            rng,
            (
                "What number does the display show in the last frame before the video is cut?",
                "When the video stops, what does the counter read?",
            ),
        )
        options = self.value_options(len(self.changes_before(cut)), rng)
        return Question("state_at_cut", cut, question, _fmt(v), options, tuple(steps), {"value": v})

    def ask_next_state(self, rng):
        last = self.timing.last
        cut = self.pick_cut(
            rng, lambda c: self.regular(c) and any(c <= f <= last for f in self.change_frames())
        )
        if cut is None:
            return None
        n = len(self.changes_before(cut))
        v, nxt = self.value_after(n), self.value_after(n + 1)
        steps = self.change_steps(cut, rng) + [
            self.rule_step(cut, rng),
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "It shows {v} at the cut and the next step is {d:+d}, so it will show {w}.",
                        "Next comes {d:+d}: {v} becomes {w}.",
                    ),
                    v=_fmt(v),
                    d=nxt - v,
                    w=_fmt(nxt),
                ),
                {"value": nxt},
            ),
        ]
        question = say(
            rng,
            (
                "The counter keeps going after the video is cut. What number will it show next?",
                "After the cut, what is the next number on the display?",
            ),
        )
        options = self.value_options(n + 1, rng)
        return Question("next_state", cut, question, _fmt(nxt), options, tuple(steps), {"value": nxt})

    def ask_final_state(self, rng):
        last = self.timing.last
        if last in self.change_frames():  # the last frame would sit right on a change
            return None
        cut = self.pick_cut(rng, self.regular)
        if cut is None:
            return None
        n_cut = len(self.changes_before(cut))
        n_end = len(self.changes_before(self.timing.n_frames))
        v_end = self.value_after(n_end)
        future = [f for f in self.change_frames() if f >= cut]
        steps = self.change_steps(cut, rng) + [self.rule_step(cut, rng)]
        if future:
            steps.append(
                self.at_cut(
                    cut,
                    say(
                        rng,
                        (
                            "Until {l} it changes {k} more time(s), at {ts}.",
                            ("Between the cut and {l} there are {k} more change(s) ({ts})."),
                        ),
                        l=secs(self.t(last)),
                        k=len(future),
                        ts=join([secs(self.t(f)) for f in future]),
                    ),
                    {"changes_left": len(future)},
                )
            )
        path = [_fmt(self.value_after(j)) for j in range(n_cut, n_end + 1)]
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    ("The values go {p}, so the last frame shows {v}.", "That gives {p}: {v} at the end."),
                    p=" -> ".join(path),
                    v=_fmt(v_end),
                ),
                {"value": v_end},
            )
        )
        question = say(
            rng,
            (
                "The full video lasts {D}. What number does the display show in its last frame, at {l}?",
                (
                    "The counter keeps its rhythm after the cut. What does it show at {l}, the end of the "
                    "video?"
                ),
            ),
            D=secs(self.t(self.timing.n_frames)),
            l=secs(self.t(last)),
        )
        options = self.value_options(n_end, rng)
        return Question("final_state", cut, question, _fmt(v_end), options, tuple(steps), {"value": v_end})

    def ask_change_count(self, rng):
        frames = self.change_frames()
        cut = self.pick_cut(
            rng, lambda c: (c - 1) not in frames and c not in frames and self.changes_before(c)
        )
        if cut is None:
            return None
        count = len(self.changes_before(cut))
        steps = self.change_steps(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "Nothing else changes before the cut, so {n} changes.",
                        "That is {n} changes up to the cut.",
                    ),
                    n=count,
                ),
                {"changes": count},
            )
        ]
        question = say(
            rng,
            (
                "How many times does the number on the display change before the video is cut?",
                "Before the cut, how many changes does the counter make?",
            ),
        )
        options = count_options(count, rng)
        return Question("change_count", cut, question, str(count), options, tuple(steps), {"changes": count})

    def ask_event_order(self, rng):
        if len(self.params["steps"]) == 1:  # a constant step makes the order readable from the numbers alone
            return None
        events = [
            Event(
                f,
                f"the display changes to {_fmt(self.value(f))}",
                f"shows {_fmt(self.value(f))}",
                {"value": self.value(f)},
            )
            for f in self.change_frames()
        ]
        if len({e.short for e in events}) != len(events):  # a value shown twice makes "shows 12" ambiguous
            events = [e for e in events if sum(x.short == e.short for x in events) == 1]
        return self.event_order_question(
            events,
            (
                "In which order does the display show these numbers: {events}?",
                "Order these readings as they appear: {events}.",
            ),
            rng,
        )
