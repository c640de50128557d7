"""Two tanks filling at constant rates (level = start + rate * t, capped at full).

Regularity the questions rely on: each tank's rate never changes, so two readings before the cut (at least
about three seconds apart: every cut shows 30% of the video) give the level at any later time.
"""

from __future__ import annotations

from . import constants as C
from .base import Event, Question, Scene, Step, count_options, distinct, say, secs

AT_CUT_BINS = (
    (0.25, "less than a quarter full"),
    (0.5, "between a quarter and half full"),
    (0.75, "between half and three quarters full"),
    (1.01, "more than three quarters full"),
)
FINAL_BINS = (
    (0.5, "less than half full"),
    (0.75, "between half and three quarters full"),
    (1.0, "more than three quarters full but not yet full"),
    (1.01, "completely full"),
)
MARGIN = 0.04  # a level asked about stays this far from a bin edge, so the answer is clear in the frames
LEVELS = (*C.TANK_MARKS, 1.0)


def _bin(level: float, bins) -> str:
    return next(name for edge, name in bins if level < edge)


def _pct(level: float) -> str:
    return f"{round(level * 100)}%"


class Container(Scene):
    kind = "container"

    @classmethod
    def sample(cls, timing, rng):
        rates = rng.uniform(0.05, 0.14, size=2)
        if abs(rates[0] - rates[1]) < 0.025:
            return None
        colors = [str(c) for c in rng.choice(list(C.PALETTE), size=2, replace=False)]
        tanks = {
            side: {
                "color": colors[i],
                "level0": round(float(rng.uniform(0.0, 0.2)), 3),
                "rate": round(float(rates[i]), 4),
            }
            for i, side in enumerate(C.TANKS)
        }
        return cls(timing, {"tanks": tanks})

    def level(self, side: str, k: int) -> float:
        tank = self.params["tanks"][side]
        return min(1.0, tank["level0"] + tank["rate"] * self.t(k))

    def frame_state(self, k):
        return {
            side: {"color": tank["color"], "level": round(self.level(side, k), 3)}
            for side, tank in self.params["tanks"].items()
        }

    def draw(self, canvas, k):
        for side, (x0, y0, x1, y1) in C.TANKS.items():
            wall = C.TANK_WALL_PX
            inner_top, inner_bottom = y0 + wall / canvas.height, y1 - wall / canvas.height
            height = inner_bottom - inner_top
            level = self.level(side, k)
            if level > 0:
                canvas.rect(
                    x0 + wall / canvas.width,
                    inner_bottom - level * height,
                    x1 - wall / canvas.width,
                    inner_bottom,
                    fill=C.PALETTE[self.params["tanks"][side]["color"]],
                )
            canvas.rect(x0, y0, x1, y1, outline=C.OUTLINE, width=wall)
            for mark in C.TANK_MARKS:
                y = inner_bottom - mark * height
                canvas.rect(x0 - 0.06, y, x0, y + 2 / canvas.height, fill=C.OUTLINE)

    # -- helpers --

    def name(self, side: str) -> str:
        return f"the {self.params['tanks'][side]['color']} tank"

    def events(self) -> list[Event]:
        """Each tank reaching 1/4, 1/2, 3/4 and the top, at the first frame that shows it."""
        out = []
        for side in C.TANKS:
            color = self.params["tanks"][side]["color"]
            for mark in LEVELS:
                frame = next(
                    (k for k in range(self.timing.n_frames) if self.level(side, k) >= mark - 1e-9), None
                )
                if frame is None or frame == 0:
                    continue
                what = "is full" if mark == 1.0 else f"reaches the {C.MARK_NAMES[mark]} mark"
                short = f"{color} tank full" if mark == 1.0 else f"{color} tank reaches {C.MARK_NAMES[mark]}"
                out.append(Event(frame, f"{self.name(side)} {what}", short, {side: {"level": mark}}))
        return sorted(out, key=lambda e: e.frame)

    def full_frame(self, side: str) -> int | None:
        return next((k for k in range(self.timing.n_frames) if self.level(side, k) >= 1.0), None)

    def rate_step(self, side: str, cut: int, rng) -> Step:
        """The rate read off the frames: the level at the start and at the cut (or just before it was full)."""
        full = self.full_frame(side)
        b = cut - 1 if full is None or full >= cut else max(full - 1, 1)
        la, lb = self.level(side, 0), self.level(side, b)
        rate = (lb - la) / self.t(b)
        text = say(
            rng,
            (
                "{N} rises from {la} at 0 s to {lb} at {tb}: about {r} points per second.",
                (
                    "The level of {n} goes from {la} to {lb} between 0 s and {tb}, so it gains about {r} "
                    "points a second."
                ),
                "{N}: {la} at the start, {lb} at {tb} - a steady {r} points per second.",
            ),
            n=self.name(side),
            N=self.name(side).capitalize(),
            la=_pct(la),
            lb=_pct(lb),
            tb=secs(self.t(b)),
            r=f"{rate * 100:.1f}",
        )
        if b < cut - 1:
            text += f" It is full from {secs(self.t(full))} on."
        return Step(0.0, self.t(b), text, {side: {"level": round(lb, 3), "rate_per_s": round(rate, 4)}})

    # -- questions --

    def ask_state_at_cut(self, rng):
        side = str(rng.choice(list(C.TANKS)))

        def ok(c):
            lv = self.level(side, c - 1)
            return lv < 0.97 and all(abs(lv - e) >= MARGIN for e, _ in AT_CUT_BINS)

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        level = self.level(side, cut - 1)
        answer = _bin(level, AT_CUT_BINS)
        marks = [C.MARK_NAMES[m] for m in C.TANK_MARKS if level >= m]
        steps = [
            self.rate_step(side, cut, rng),
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "In the last frame ({t}) its level is at {p}, {where}.",
                        ("At the cut ({t}) the liquid stands at {p}, {where}."),
                    ),
                    t=secs(self.t(cut - 1)),
                    p=_pct(level),
                    where=f"above the {marks[-1]} mark" if marks else "below the 1/4 mark",
                ),
                {side: {"level": round(level, 3)}},
            ),
            self.at_cut(cut, f"So {self.name(side)} is {answer}.", {side: {"bin": answer}}),
        ]
        question = say(
            rng,
            (
                "How full is {n} (on the {side}) in the last frame before the video is cut?",
                "When the video stops, how full is {n} on the {side}?",
            ),
            n=self.name(side),
            side=side,
        )
        options = distinct([n for _, n in AT_CUT_BINS], answer)
        return Question("state_at_cut", cut, question, answer, options, tuple(steps), {side: {"bin": answer}})

    def ask_next_state(self, rng):
        events = self.events()
        gap = self.timing.frames(0.75)

        def ok(c):
            future = [e for e in events if e.frame >= c]
            return len(future) >= 2 and future[1].frame - future[0].frame >= gap and future[0].frame >= c + 1

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        future = [e for e in events if e.frame >= cut]
        past = [e for e in events if e.frame < cut]
        nxt = future[0]
        steps = [self.rate_step(side, cut, rng) for side in C.TANKS]
        for side in C.TANKS:
            level, rate = self.level(side, cut - 1), self.params["tanks"][side]["rate"]
            target = next((m for m in LEVELS if m > level + 1e-9), None)
            if target is None:
                steps.append(
                    self.at_cut(
                        cut, f"{self.name(side).capitalize()} is already full.", {side: {"level": 1.0}}
                    )
                )
                continue
            eta = self.t(cut - 1) + (target - level) / rate
            what = "the top" if target == 1.0 else f"the {C.MARK_NAMES[target]} mark"
            steps.append(
                self.at_cut(
                    cut,
                    say(
                        rng,
                        (
                            "{N} is at {p}; at this rate it reaches {w} at about {eta}.",
                            "From {p}, {n} needs about {d} more to reach {w}, around {eta}.",
                        ),
                        N=self.name(side).capitalize(),
                        n=self.name(side),
                        p=_pct(level),
                        w=what,
                        eta=secs(round(eta * 4) / 4),
                        d=secs(round((eta - self.t(cut - 1)) * 4) / 4),
                    ),
                    {side: {"next_level": target, "at_s": round(eta, 2)}},
                )
            )
        steps.append(
            self.at_cut(
                cut,
                say(rng, ("The earliest of these comes first: {e}.", "So next, {e}."), e=nxt.text),
                {"next_event": nxt.short},
            )
        )
        candidates = [e.text for e in future[1:]] + [e.text for e in reversed(past)]
        options = distinct(candidates, nxt.text)
        if options is None:
            return None
        question = say(
            rng,
            (
                "Both tanks keep filling after the video is cut. What happens next?",
                "After the cut, which of these events comes first?",
            ),
        )
        return Question(
            "next_state", cut, question, nxt.text, options, tuple(steps), {"next_event": nxt.short}
        )

    def ask_final_state(self, rng):
        side = str(rng.choice(list(C.TANKS)))
        last = self.timing.last
        level = self.level(side, last)
        full_at = self.full_frame(side)
        if level >= 1.0:
            if full_at > last - 2:
                return None
        elif level > 1.0 - MARGIN or any(abs(level - e) < MARGIN for e, _ in FINAL_BINS[:2]):
            return None
        cut = self.pick_cut(
            rng, lambda c: self.level(side, c - 1) < 1.0 and (full_at is None or full_at >= c + 1)
        )
        if cut is None:
            return None
        answer = _bin(level, FINAL_BINS)
        now, rate = self.level(side, cut - 1), self.params["tanks"][side]["rate"]
        remaining = self.t(last) - self.t(cut - 1)
        raw = now + rate * remaining
        if raw < 1:
            predicted = say(
                rng,
                (
                    "Over the remaining {d} up to {l} it gains about {g} points, reaching {p}.",
                    "{d} more at that rate adds about {g} points: {p} at {l}.",
                ),
                d=secs(remaining),
                l=secs(self.t(last)),
                g=round(rate * remaining * 100),
                p=_pct(raw),
            )
        else:
            predicted = say(
                rng,
                (
                    (
                        "It needs only {g} more points, about {d} at this rate: it is full from about {f} "
                        "on, well before {l}."
                    ),
                    (
                        "At this rate the remaining {g} points take about {d}, so it "
                        "is full from about {f} and stays full until {l}."
                    ),
                ),
                g=round((1 - now) * 100),
                d=secs(round((1 - now) / rate * 4) / 4),
                f=secs(round((self.t(cut - 1) + (1 - now) / rate) * 4) / 4),
                l=secs(self.t(last)),
            )
        steps = [
            self.rate_step(side, cut, rng),
            self.at_cut(cut, predicted, {side: {"level": round(min(raw, 1), 3)}}),
            self.at_cut(cut, f"So in the last frame {self.name(side)} is {answer}.", {side: {"bin": answer}}),
        ]
        question = say(
            rng,
            (
                "The full video lasts {D}. How full is {n} (on the {side}) in its last frame, at {l}?",
                "{N} keeps filling after the cut. How full is it at {l}, the end of the {D} video?",
            ),
            D=secs(self.t(self.timing.n_frames)),
            n=self.name(side),
            N=self.name(side).capitalize(),
            side=side,
            l=secs(self.t(last)),
        )
        options = distinct([n for _, n in FINAL_BINS], answer)
        return Question("final_state", cut, question, answer, options, tuple(steps), {side: {"bin": answer}})

    def ask_change_count(self, rng):
        side = str(rng.choice(list(C.TANKS)))

        def ok(c):
            lv = self.level(side, c - 1)
            return all(abs(lv - m) >= MARGIN / 2 for m in C.TANK_MARKS)

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        level = self.level(side, cut - 1)
        steps = [
            Step(
                0.0,
                0.0,
                f"At the start {self.name(side)} is at {_pct(self.level(side, 0))}.",
                {side: {"level": round(self.level(side, 0), 3)}},
            )
        ]
        count = 0
        for e in self.events():
            if e.frame < cut and side in e.state and e.state[side]["level"] in C.TANK_MARKS:
                count += 1
                steps.append(
                    Step(
                        self.t(e.frame),
                        self.t(e.frame),
                        say(
                            rng,
                            ("At {t} {e} (mark {k}).", "{T} {e} - that is {k} so far."),
                            t=secs(self.t(e.frame)),
                            T=f"By {secs(self.t(e.frame))}",
                            e=e.text,
                            k=count,
                        ),
                        e.state,
                    )
                )
        steps.append(
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "At the cut ({t}) it is at {p}, so it has passed {n} of the marks.",
                        "Its level at the cut is {p}: {n} marks passed.",
                    ),
                    t=secs(self.t(cut - 1)),
                    p=_pct(level),
                    n=count,
                ),
                {side: {"marks": count}},
            )
        )
        question = say(
            rng,
            (
                (
                    "How many of the three marks (1/4, 1/2, 3/4) has the liquid in {n} passed before the "
                    "video is cut?"
                ),
                ("Before the cut, how many of its marks has the level of {n} risen past?"),
            ),
            n=self.name(side),
        )
        options = count_options(count, rng, 0, 3)
        return Question(
            "change_count", cut, question, str(count), options, tuple(steps), {side: {"marks": count}}
        )

    def ask_event_order(self, rng):
        return self.event_order_question(
            self.events(),
            (
                "Both tanks fill up. In which order do these happen: {events}?",
                "Put these events in the order they happen in the video: {events}.",
            ),
            rng,
        )
