"""Squares appearing and disappearing in a row of four slots.

Regularity the questions rely on: a new square appears every ``period`` frames, in slot order 1, 2, 3, 4,
1, ..., its colour following a fixed repeating sequence of three, and each stays for ``life`` frames.
Questions about the future are cut only after the slot order and the colour sequence have been seen to
repeat and (for the end state) after a square has disappeared, which shows its lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import constants as C
from .base import Event, Question, Scene, Step, count_options, distinct, join, say, secs


@dataclass(frozen=True)
class Square:
    index: int
    slot: int  # 1-based
    color: str
    shown: int  # first frame
    gone: int  # first frame without it


class Slots(Scene):
    kind = "slots"

    @classmethod
    def sample(cls, timing, rng):
        period = timing.frames(rng.uniform(0.75, 1.5))
        life = int(rng.integers(period + timing.frames(0.5), 3 * period + 1))
        colors = [str(c) for c in rng.choice(list(C.PALETTE), size=3, replace=False)]
        return cls(
            timing, {"first": int(rng.integers(period)), "period": period, "life": life, "colors": colors}
        )

    @cached_property
    def squares(self) -> list[Square]:
        """Every square of the video (found once: every frame's state and question asks for them)."""
        p = self.params
        out, j = [], 0
        while p["first"] + j * p["period"] < self.timing.n_frames:
            shown = p["first"] + j * p["period"]
            out.append(
                Square(j, j % C.N_SLOTS + 1, p["colors"][j % len(p["colors"])], shown, shown + p["life"])
            )
            j += 1
        return out

    def frame_state(self, k):
        visible = {str(s.slot): s.color for s in self.squares if s.shown <= k < s.gone}
        return {"visible": visible, "count": len(visible)}

    def draw(self, canvas, k):
        half_w = C.SLOT_SIZE / 2
        half_h = half_w * canvas.width / canvas.height
        inset_w, inset_h = 2 / canvas.width, 2 / canvas.height
        for slot in range(1, C.N_SLOTS + 1):
            x = (slot - 0.5) / C.N_SLOTS
            canvas.rect(x - half_w, 0.5 - half_h, x + half_w, 0.5 + half_h, outline=C.SLOT)
            color = self.states[k]["visible"].get(str(slot))
            if color:
                canvas.rect(
                    x - half_w + inset_w,
                    0.5 - half_h + inset_h,
                    x + half_w - inset_w,
                    0.5 + half_h - inset_h,
                    fill=C.PALETTE[color],
                )

    # -- events and trace pieces --

    def events(self, kinds: tuple[str, ...] = ("appears", "disappears")) -> list[Event]:
        out = []
        for s in self.squares:
            if "appears" in kinds and 0 < s.shown:
                out.append(
                    Event(
                        s.shown,
                        f"a {s.color} square appears in slot {s.slot}",
                        f"{s.color} appears in slot {s.slot}",
                        {"appears": {str(s.slot): s.color}},
                    )
                )
            if "disappears" in kinds and s.gone <= self.timing.last:
                out.append(
                    Event(
                        s.gone,
                        f"the {s.color} square in slot {s.slot} disappears",
                        f"{s.color} leaves slot {s.slot}",
                        {"disappears": {str(s.slot): s.color}},
                    )
                )
        return sorted(out, key=lambda e: e.frame)

    def event_steps(self, cut: int, rng, kinds=("appears", "disappears")) -> list[Step]:
        steps = []
        first = self.states[0]["visible"]
        if first:
            there = join([f"a {c} square is in slot {s}" for s, c in sorted(first.items())])
            steps.append(Step(0.0, 0.0, f"At the start {there}.", {"visible": dict(first)}))
        for e in self.events(kinds):
            if e.frame < cut:
                steps.append(
                    Step(
                        self.t(e.frame),
                        self.t(e.frame),
                        say(
                            rng,
                            ("At {t} {e}.", "{T} {e}.", "By {t}, {e}."),
                            t=secs(self.t(e.frame)),
                            T=secs(self.t(e.frame)) + ":",
                            e=e.text,
                        ),
                        e.state,
                    )
                )
        return steps

    def rule_step(self, cut: int, rng, lifetime: bool) -> Step:
        p = self.params
        text = say(
            rng,
            (
                "A new square appears every {P}, in slots 1, 2, 3, 4 in turn, coloured {cs} in turn.",
                "The pattern: one square every {P}, slot by slot from the left, colours repeating {cs}.",
            ),
            P=secs(self.t(p["period"])),
            cs=", ".join(p["colors"]),
        )
        state = {"period_s": self.t(p["period"]), "colors": list(p["colors"])}
        if lifetime:
            text += f" Each square stays for {secs(self.t(p['life']))}."
            state["life_s"] = self.t(p["life"])
        return self.at_cut(cut, text, state)

    def regular(self, cut: int, lifetime: bool) -> bool:
        shown = [s for s in self.squares if s.shown < cut]
        seen_gone = any(s.gone < cut for s in self.squares)
        return len(shown) >= 4 and (seen_gone or not lifetime)

    @cached_property
    def _event_frames(self) -> frozenset[int]:
        return frozenset(e.frame for e in self.events())

    def quiet(self, frame: int) -> bool:
        """No square appears or disappears at ``frame`` or the next, so a count there is plain to see."""
        return frame not in self._event_frames and frame + 1 not in self._event_frames

    # -- questions --

    def ask_state_at_cut(self, rng):
        cut = self.pick_cut(rng, lambda c: self.quiet(c - 1))
        if cut is None:
            return None
        visible = self.states[cut - 1]["visible"]
        count = len(visible)
        where = f"in slot(s) {join(sorted(visible))}" if visible else "none at all"
        steps = self.event_steps(cut, rng) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "So in the last frame ({t}) {n} square(s) are visible, {w}.",
                        "At the cut ({t}): {n} square(s), {w}.",
                    ),
                    t=secs(self.t(cut - 1)),
                    n=count,
                    w=where,
                ),
                {"count": count, "visible": dict(visible)},
            )
        ]
        question = say(
            rng,
            (
                "How many squares are visible in the last frame before the video is cut?",
                "When the video stops, how many of the slots hold a square?",
            ),
        )
        options = count_options(count, rng, 0, C.N_SLOTS)
        return Question("state_at_cut", cut, question, str(count), options, tuple(steps), {"count": count})

    def ask_next_state(self, rng):
        squares = self.squares

        def ok(c):
            nxt = next((s for s in squares if s.shown >= c), None)
            return self.regular(c, lifetime=False) and nxt is not None and nxt.shown >= c + 1

        cut = self.pick_cut(rng, ok)
        if cut is None:
            return None
        last = max((s for s in squares if s.shown < cut), key=lambda s: s.shown)
        nxt = next(s for s in squares if s.shown >= cut)
        answer = f"a {nxt.color} square in slot {nxt.slot}"
        # Options: {right, wrong colour} x {right, wrong slot}, so no option shares more with the others.
        color = str(rng.choice([c for c in self.params["colors"] if c != nxt.color]))
        slot = int(rng.choice([s for s in range(1, C.N_SLOTS + 1) if s != nxt.slot]))
        options = distinct(
            [
                f"a {nxt.color} square in slot {slot}",
                f"a {color} square in slot {nxt.slot}",
                f"a {color} square in slot {slot}",
            ],
            answer,
        )
        steps = self.event_steps(cut, rng, kinds=("appears",)) + [
            self.rule_step(cut, rng, lifetime=False),
            self.at_cut(
                cut,
                say(
                    rng,
                    (
                        "The last one was {c} in slot {s}, so the next is {a}, due at {t}.",
                        "After {c} in slot {s} comes {a}, about {t}.",
                    ),
                    c=last.color,
                    s=last.slot,
                    a=answer,
                    t=secs(self.t(nxt.shown)),
                ),
                {"appears": {str(nxt.slot): nxt.color}},
            ),
        ]
        question = say(
            rng,
            (
                (
                    "Squares keep appearing after the video is cut. Where and in which colour does the next "
                    "new square appear?"
                ),
                "After the cut, what is the next square to appear?",
            ),
        )
        return Question(
            "next_state",
            cut,
            question,
            answer,
            options,
            tuple(steps),
            {"appears": {str(nxt.slot): nxt.color}},
        )

    def ask_final_state(self, rng):
        last = self.timing.last
        if not self.quiet(last - 1):
            return None
        cut = self.pick_cut(rng, lambda c: self.regular(c, lifetime=True))
        if cut is None:
            return None
        visible = self.states[last]["visible"]
        count = len(visible)
        life = self.params["life"]
        present = [s for s in self.squares if s.shown <= last < s.gone]
        text = say(
            rng,
            (
                "At {l}, squares that appeared after {t0} are still there: {w}.",
                "A square shown at {l} must have appeared within the last {L}: {w}.",
            ),
            l=secs(self.t(last)),
            t0=secs(self.t(last - life)),
            L=secs(self.t(life)),
            w=join([f"{s.color} in slot {s.slot} (from {secs(self.t(s.shown))})" for s in present])
            if present
            else "none",
        )
        steps = self.event_steps(cut, rng) + [
            self.rule_step(cut, rng, lifetime=True),
            self.at_cut(cut, text, {"visible": dict(visible)}),
            self.at_cut(cut, f"So {count} square(s) are visible in the last frame.", {"count": count}),
        ]
        question = say(
            rng,
            (
                "The full video lasts {D}. How many squares are visible in its last frame, at {l}?",
                (
                    "The pattern goes on after the cut. How many squares are on screen at {l}, the end of "
                    "the video?"
                ),
            ),
            D=secs(self.t(self.timing.n_frames)),
            l=secs(self.t(last)),
        )
        options = count_options(count, rng, 0, C.N_SLOTS)
        return Question("final_state", cut, question, str(count), options, tuple(steps), {"count": count})

    def ask_change_count(self, rng):
        kind = str(rng.choice(["appears", "disappears"]))
        events = self.events((kind,))
        cut = self.pick_cut(
            rng, lambda c: all(e.frame not in (c - 1, c) for e in events) and any(e.frame < c for e in events)
        )
        if cut is None:
            return None
        count = sum(e.frame < cut for e in events)
        verb = "appear" if kind == "appears" else "disappear"
        steps = self.event_steps(cut, rng, kinds=(kind,)) + [
            self.at_cut(
                cut,
                say(
                    rng,
                    ("Counting them up to the cut: {n} squares {v}.", "So {n} squares {v} before the cut."),
                    n=count,
                    v=verb,
                ),
                {kind: count},
            )
        ]
        question = say(
            rng,
            (
                "How many squares {v} before the video is cut?",
                "Before the cut, how many times does a square {v}?",
            ),
            v=verb,
        )
        options = count_options(count, rng, 0)
        return Question("change_count", cut, question, str(count), options, tuple(steps), {kind: count})

    def ask_event_order(self, rng):
        return self.event_order_question(
            self.events(),
            (
                "In which order do these happen in the video: {events}?",
                "Order these events as they happen: {events}.",
            ),
            rng,
        )
