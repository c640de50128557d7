"""The ``moss_baseline`` model's solver: it reads the synthetic MOSS-Video scenes' pixels; frames, prompt and the
question's task type in, "Step N:" trace and answer out.

It sees what a video model sees: the frames of the clip (only those before ``observed_until``, via
:func:`moss_plugins.data.video.load_frames`) and the prompt text (question and lettered options), plus the task
type the question carries (``task_type``: which kind of question it is, never its answer). It never reads a
sample's annotations: no answer, reference trace, scene parameters or per-frame state files. What it
knows is the rendering conventions of :mod:`moss_plugins.data.synth.constants` (palette, layout) and the
regularities the scenes promise (a traffic light cycles red, green, yellow; a counter steps by a fixed pattern at
a fixed period; tanks fill and shapes move at constant rates; squares appear in slot order), as a person who has
read the task description would.

Per frame it reads the scene's state (which lamp is lit, the disc's colour, the two digits, the tank levels, the
shapes' positions, which slots hold a square), then answers by counting, ordering or extrapolating, and writes
what it saw and inferred as steps. Where a question needs what the clip cannot show (how long the video runs
on after the cut), it assumes :data:`ASSUMED_DURATION` and says so in the trace.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.captions import secs
from ..data.synth import constants as C
from ..output_format import LETTERS, format_response, normalize, split_prompt
from ..sample import TASK_TYPES

ASSUMED_DURATION = sum(C.DEFAULT_DURATION) / 2  # seconds, when a question needs the (unseen) end of the video
LEVEL_WORDS = {"empty": 0.0, "quarter": 0.25, "half": 0.5, "three quarters": 0.75}
SHAPE_FILL = {
    "square": 1.0,
    "circle": math.pi / 4,
    "triangle": 0.5,
}  # share of its bounding box a shape fills
MARKS = {"1/4": 0.25, "1/2": 0.5, "3/4": 0.75, "full": 1.0, "top": 1.0}
# A synthetic frame: every pixel within COLOUR_TOLERANCE (RGB distance; the codec's error on the bundled scenes
# stays under it) of a scene colour, bar edges (>= 95% measured; camera clips: 53-71%), and mostly background
# (>= 66%; camera clips <= 28%, a black screen 0%).
COLOUR_TOLERANCE = 40.0
KNOWN_SHARE = 0.9
BACKGROUND_SHARE = 0.5

_SPECIAL = {
    "background": C.BACKGROUND,
    "unlit": C.UNLIT,
    "outline": C.OUTLINE,
    "slot": C.SLOT,
    "housing": C.HOUSING,
}
_NAMES = [*C.PALETTE, *_SPECIAL]
_RGB = np.array([*C.PALETTE.values(), *_SPECIAL.values()], dtype=np.float32)
_N_PALETTE = len(C.PALETTE)


class SceneError(ValueError):
    """The frames do not look like any synthetic scene kind."""


# --- pixels ------------------------------------------------------------------------------------------------------


def classify(pixels: np.ndarray) -> np.ndarray:
    """Index into ``_NAMES`` of the nearest palette/special colour, for every pixel ([..., 3] -> [...])."""
    d = ((pixels[..., None, :].astype(np.float32) - _RGB) ** 2).sum(axis=-1)
    return d.argmin(axis=-1)


def colour_at(frame: np.ndarray, x: float, y: float, r: int = 1) -> str:
    """The colour name around (x, y) (fractions of width and height): the majority in a small patch."""
    h, w, _ = frame.shape
    cy, cx = min(h - 1, round(y * h)), min(w - 1, round(x * w))
    patch = frame[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1].reshape(-1, 3)
    return _NAMES[np.bincount(classify(patch), minlength=len(_NAMES)).argmax()]


def is_palette(name: str) -> bool:
    return name in C.PALETTE


def detect_kind(frame: np.ndarray) -> str:
    """The scene kind from the layout of one frame (constants: each kind draws only its own elements, so a few
    fixed points where only one kind ever draws a given colour tell them apart)."""
    px = 1 / frame.shape[1]

    def all_are(name: str, points) -> bool:
        return all(colour_at(frame, x, y, r=0) == name for x, y in points)

    hx0, hy0, hx1, hy1 = C.TRAFFIC_HOUSING
    if all_are("housing", [(hx0 + 2 * px, 0.36), (hx1 - 3 * px, 0.64), (0.5, hy1 - 0.02)]):
        return "traffic_light"
    if all_are(
        "outline",
        [(x + px, y) for x0, _, x1, _ in C.TANKS.values() for x in (x0, x1 - 2 * px) for y in (0.3, 0.7)],
    ):
        return "container"
    if all_are("slot", [(0.5, 0.2), (0.5, 0.8)]):  # the midline the shapes cross
        return "moving"
    half = C.SLOT_SIZE / 2
    if all_are("slot", [((s - 0.5) / C.N_SLOTS - half + px / 2, 0.5) for s in (1, C.N_SLOTS)]):
        return "slots"
    dx, dy = C.DISC_CENTER
    disc = all(is_palette(colour_at(frame, dx, y)) for y in (dy - C.DISC_R * 0.8, dy, dy + C.DISC_R * 0.8))
    if disc and all_are("background", [(0.05, 0.05), (0.95, 0.95)]):
        return "color_cycle"
    if any(
        colour_at(frame, x, y) in ("unlit", *C.PALETTE) for x, y in ((0.31, 0.25), (0.69, 0.25), (0.31, 0.75))
    ):
        return "counter"
    raise SceneError("no synthetic scene layout recognised in the frames")


# --- the question --------------------------------------------------------------------------------------------------


_AT_TIME = re.compile(
    r"\bat (\d+(?:\.\d+)?) ?s\b"
)  # "at 9.25 s": a time after the cut (final_state questions)


def target_time(question: str) -> float | None:
    match = _AT_TIME.search(question.lower())
    return float(match.group(1)) if match else None


# --- what a solver returns -------------------------------------------------------------------------------------------


@dataclass
class Solution:
    steps: list[str]  # observations and inferences, in order
    answer: str | None = None  # the answer in words (matched to the options)
    score: Callable[[str], float] | None = None  # or: how well an option fits (higher is better)
    conclusion: str = "So the answer is {option}."


def tokens(text: str) -> set[str]:
    return set(normalize(text).split())


def pick_option(solution: Solution, options: Sequence[str]) -> int:
    """The option that fits the solution: its score, else the same words, else the most shared words."""
    if solution.score is not None:
        scores = [solution.score(o) for o in options]
        return int(np.argmax(scores))
    if solution.answer is None:
        return 0
    want = normalize(solution.answer)
    for k, option in enumerate(options):
        if normalize(option) == want:
            return k
    want_tokens = tokens(solution.answer)
    overlap = [len(want_tokens & tokens(o)) / max(1, len(want_tokens | tokens(o))) for o in options]
    return int(np.argmax(overlap))


def runs(states: Sequence) -> list[tuple[object, int, int]]:
    """(state, first frame, last frame) of each run of equal consecutive states."""
    out = []
    for k, s in enumerate(states):
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1], k)
        else:
            out.append((s, k, k))
    return out


def order_score(time_of: Callable[[str], float]) -> Callable[[str], float]:
    """Score of an "A; then B; then C" option: the share of its event pairs that happen in that order."""

    def score(option: str) -> float:
        times = [time_of(e.strip()) for e in option.split("; then ")]
        pairs = list(itertools.combinations(times, 2))
        return sum(a < b for a, b in pairs) / max(1, len(pairs))

    return score


# --- scene readers and solvers -----------------------------------------------------------------------------------


class Video:
    def __init__(self, frames: np.ndarray, times: np.ndarray, fps: float):
        self.frames, self.times, self.fps = frames, np.asarray(times, dtype=float), float(fps)

    @property
    def cut_time(self) -> float:
        return float(self.times[-1])

    def frame_of(self, t: float) -> int:
        return round(t * self.fps)


def _cyclic(video: Video, question: str, qtype: str, kind: str) -> Solution:
    if kind == "traffic_light":

        def state(frame):
            lit = [name for name, y in C.TRAFFIC_LAMPS.items() if colour_at(frame, 0.5, y, r=2) == name]
            return lit[0] if len(lit) == 1 else "none (all lamps off)"

        thing, say = "the traffic light", "the {} light is on"
    else:

        def state(frame):
            return colour_at(frame, *C.DISC_CENTER, r=2)

        thing, say = "the disc", "the disc is {}"
    seq = runs([state(f) for f in video.frames])
    steps = [f"The frames show {thing}; I read its state in each of the {len(video.frames)} frames."]
    for s, a, b in seq[:8]:
        steps.append(f"From {secs(video.times[a])} to {secs(video.times[b])} {say.format(s)}.")
    if len(seq) > 8:
        steps.append(f"It goes on changing: {len(seq)} states in all up to {secs(video.cut_time)}.")
    successor = {seq[i][0]: seq[i + 1][0] for i in range(len(seq) - 1)}
    if kind == "traffic_light":  # the documented cycle fills what the clip has not shown yet
        for a, b in zip(C.TRAFFIC_CYCLE, C.TRAFFIC_CYCLE[1:] + C.TRAFFIC_CYCLE[:1]):
            successor.setdefault(a, b)
    full = [b - a + 1 for s, a, b in seq[1:-1]]
    length = {s: b - a + 1 for s, a, b in seq[1:-1]}
    current, start, _ = seq[-1]
    if qtype == "state_at_cut":
        return Solution(
            steps + [f"In the last frame, at {secs(video.cut_time)}, {say.format(current)}."], current
        )
    if qtype == "change_count":
        return Solution(steps + [f"That is {len(seq) - 1} changes before the cut."], str(len(seq) - 1))
    if qtype == "event_order":
        first = [s for s, _, _ in seq[:3]]
        order = ", then ".join(first)
        return Solution(steps + [f"The first three states are {order}."], order)
    nxt = successor.get(current)
    steps.append(
        "The states repeat in a fixed order: " + ", ".join(f"{a} -> {b}" for a, b in successor.items()) + "."
    )
    if qtype == "next_state":
        if nxt is None:
            return Solution(
                steps + [f"I have not seen what follows {current} yet."],
                None,
                conclusion="So I guess {option}.",
            )
        return Solution(steps + [f"Now {say.format(current)}, so next comes {nxt}."], nxt)
    _expect(qtype, "final_state")  # run the cycle on, each state lasting as long as it did in the clip
    t_end = target_time(question) or ASSUMED_DURATION
    default = int(np.median(full)) if full else max(1, len(video.frames) // max(1, len(seq)))
    frame, state_now, k = video.frame_of(t_end), current, start
    while True:
        k += length.get(state_now, default)
        if k > frame or state_now not in successor:
            break
        state_now = successor[state_now]
    durations = (
        ", ".join(f"{s} {secs(n / video.fps)}" for s, n in length.items())
        or f"about {secs(default / video.fps)}"
    )
    steps.append(
        f"Each state lasts about as long as before ({durations}); running the cycle on to {secs(t_end)}."
    )
    return Solution(steps + [f"At {secs(t_end)} {say.format(state_now)}."], state_now)


def _digit(frame: np.ndarray, box: tuple[float, float, float, float]) -> int | None:
    """The digit a seven-segment box shows (segment centres from the drawing conventions), None if unreadable."""
    x0, y0, x1, y1 = box
    th = C.SEGMENT_WIDTH * (x1 - x0)
    tv = th * frame.shape[1] / frame.shape[0]
    ym = (y0 + y1) / 2
    centres = {
        "a": ((x0 + x1) / 2, y0 + tv / 2),
        "b": (x1 - th / 2, (y0 + tv + ym) / 2),
        "c": (x1 - th / 2, (ym + y1 - tv) / 2),
        "d": ((x0 + x1) / 2, y1 - tv / 2),
        "e": (x0 + th / 2, (ym + y1 - tv) / 2),
        "f": (x0 + th / 2, (y0 + tv + ym) / 2),
        "g": ((x0 + x1) / 2, ym),
    }
    colours = {seg: colour_at(frame, x, y, r=0) for seg, (x, y) in centres.items()}
    lit = "".join(sorted(s for s, c in colours.items() if is_palette(c)))
    return next((d for d, segs in C.SEGMENTS.items() if "".join(sorted(segs)) == lit), None)


def _counter(video: Video, question: str, qtype: str) -> Solution:
    values = []
    for frame in video.frames:
        tens, units = (_digit(frame, box) for box in C.DIGIT_BOXES)
        values.append(None if tens is None or units is None else 10 * tens + units)
    known = [v for v in values if v is not None]
    if not known:
        raise SceneError("no readable digits on the counter")
    values = [v if v is not None else known[0] for v in values]
    seq = runs(values)
    steps = [f"The frames show a two-digit counter; it starts at {seq[0][0]:02d}."]
    for v, a, _ in seq[1:9]:
        steps.append(f"At {secs(video.times[a])} it shows {v:02d}.")
    diffs = [b[0] - a[0] for a, b in zip(seq, seq[1:])]
    change_frames = [a for _, a, _ in seq[1:]]
    current = seq[-1][0]
    if qtype == "state_at_cut":
        return Solution(steps + [f"In the last frame it reads {current:02d}."], f"{current:02d}")
    if qtype == "change_count":
        return Solution(steps + [f"That is {len(diffs)} changes before the cut."], str(len(diffs)))
    if qtype == "event_order":
        first_seen = {f"shows {v:02d}": video.times[a] for v, a, _ in reversed(seq)}
        return Solution(
            steps + ["Ordering the readings by when they first appear."],
            score=order_score(lambda e: first_seen.get(e, math.inf)),
        )
    if not diffs:
        raise SceneError("the counter never changes in the clip")
    pattern = diffs[-2:] if len(diffs) >= 2 and diffs[-1] != diffs[-2] else diffs[-1:]
    period = int(np.median(np.diff(change_frames))) if len(change_frames) >= 2 else len(video.frames)
    steps.append(
        f"It changes every {secs(period / video.fps)} by "
        + (f"{pattern[0]:+d}" if len(pattern) == 1 else f"{pattern[0]:+d} and {pattern[1]:+d} in turn")
        + "."
    )
    if qtype == "next_state":
        nxt = current + pattern[0]
        return Solution(steps + [f"After {current:02d} the next step gives {nxt:02d}."], f"{nxt:02d}")
    _expect(qtype, "final_state")
    t_end = target_time(question) or ASSUMED_DURATION
    n_more = max(0, (video.frame_of(t_end) - change_frames[-1]) // period) if change_frames else 0
    value = current + sum(pattern[j % len(pattern)] for j in range(n_more))
    steps.append(
        f"From {secs(video.times[change_frames[-1]])} to {secs(t_end)} it changes {n_more} more times."
    )
    return Solution(steps + [f"So at {secs(t_end)} it shows {value:02d}."], f"{value:02d}")


def _level_interval(option: str) -> tuple[float, float]:
    """The fill levels an option's words describe: "between a quarter and half full" -> (0.25, 0.5)."""
    o = option.lower()
    if "completely full" in o or o.strip() == "full":
        return 1.0, 1.0
    upper = 0.999 if "not yet full" in o else 1.0
    vals = [
        LEVEL_WORDS[w]
        for w in re.findall(r"three quarters|quarter|half|empty", o.replace("not yet full", ""))
    ]
    if not vals:
        return 0.0, 1.0
    if o.startswith("less than"):
        return 0.0, vals[0]
    if o.startswith("more than"):
        return vals[0], upper
    if o.startswith("between") and len(vals) >= 2:
        return min(vals[:2]), max(vals[:2])
    return vals[0], vals[0]


def _interval_score(level: float) -> Callable[[str], float]:
    def score(option: str) -> float:
        low, high = _level_interval(option)
        return -max(0.0, low - level, level - high) - 1e-3 * (high - low)

    return score


def _container(video: Video, question: str, qtype: str) -> Solution:
    h, w = video.frames.shape[1:3]
    tanks = {}
    for side, (x0, y0, x1, y1) in C.TANKS.items():
        top, bottom = round(y0 * h) + C.TANK_WALL_PX, round(y1 * h) - C.TANK_WALL_PX
        column = video.frames[:, top:bottom, round((x0 + x1) / 2 * w)]  # [T, rows, 3]
        names = classify(column)
        liquid = names < _N_PALETTE
        levels = liquid.sum(axis=1) / (bottom - top)
        colours = names[liquid]
        colour = _NAMES[np.bincount(colours).argmax()] if colours.size else None
        tanks[side] = (colour, levels)
    named = {colour: levels for colour, levels in tanks.values() if colour}
    empty = [levels for c, levels in tanks.values() if c is None]  # a tank with no liquid yet shows no colour
    for colour in re.findall(r"\b(" + "|".join(C.PALETTE) + r") tank", question.lower()):
        if colour not in named and empty:
            named[colour] = empty.pop()
    steps = [
        f"The frames show two tanks filling: {', '.join(f'the {side} one is {c}' for side, (c, _) in tanks.items() if c)}."
    ]
    rates = {}
    for colour, levels in named.items():
        rising = np.flatnonzero((levels > 0.02) & (levels < 0.98))
        if len(rising) >= 2:
            rate, start = np.polyfit(video.times[rising], levels[rising], 1)
        else:
            rate, start = 0.0, float(levels[-1])
        rates[colour] = (float(rate), float(start))
        steps.append(
            f"The {colour} tank goes from {levels[0]:.0%} to {levels[-1]:.0%} full by {secs(video.cut_time)}, "
            f"about {rate:.1%} per second."
        )

    def level_at(colour: str, t: float) -> float:
        if t <= video.cut_time:
            return float(named[colour][video.frame_of(min(t, video.cut_time))])
        rate, start = rates[colour]
        return min(1.0, max(float(named[colour][-1]), start + rate * t))

    def reach_time(colour: str, mark: float) -> float:
        hit = np.flatnonzero(named[colour] >= mark - 0.01)
        if hit.size:
            return float(video.times[hit[0]])
        rate, start = rates[colour]
        return (mark - start) / rate if rate > 1e-6 else math.inf

    def event_time(event: str) -> float:
        e = event.lower()
        colour = next((c for c in named if c in e), None)
        mark = next((v for m, v in MARKS.items() if m in e), None)
        return math.inf if colour is None or mark is None else reach_time(colour, mark)

    asked = next(
        (c for c in re.findall(r"\b(" + "|".join(C.PALETTE) + r")\b", question.lower()) if c in named),
        next(iter(named)),
    )
    if qtype == "state_at_cut":
        level = level_at(asked, video.cut_time)
        return Solution(
            steps + [f"At the cut the {asked} tank is {level:.0%} full."],
            score=_interval_score(level),
            conclusion="So the {asked} tank is {{option}}.".format(asked=asked),
        )
    if qtype == "final_state":
        t_end = target_time(question) or ASSUMED_DURATION
        level = level_at(asked, t_end)
        steps.append(f"At that rate the {asked} tank is {level:.0%} full at {secs(t_end)}.")
        return Solution(
            steps,
            score=_interval_score(level),
            conclusion=f"So at {secs(t_end)} the {asked} tank is {{option}}.",
        )
    if qtype == "change_count":
        level = level_at(asked, video.cut_time)
        passed = [m for m in C.TANK_MARKS if level >= m - 0.01]
        steps.append(
            f"The {asked} level ({level:.0%}) has passed {len(passed)} of the marks at 1/4, 1/2 and 3/4."
        )
        return Solution(steps, str(len(passed)))
    if qtype == "event_order":
        return Solution(
            steps + ["Ordering the events by when each level reaches its mark."],
            score=order_score(event_time),
        )
    _expect(qtype, "next_state")  # the first event after the cut among those named in the options
    return Solution(
        steps + ["The next event is the one whose mark is reached first after the cut."],
        score=lambda o: -event_time(o) if event_time(o) > video.cut_time else -math.inf,
    )


def _longest_run(flags: np.ndarray) -> tuple[int, int] | None:
    best, start = None, None
    for k, on in enumerate([*flags, False]):
        if on and start is None:
            start = k
        elif not on and start is not None:
            if best is None or k - start > best[1] - best[0] + 1:
                best = (start, k - 1)
            start = None
    return best


def _blob(mask: np.ndarray) -> tuple[float, int, float, int] | None:
    """(centre column, width, share of its box it fills, pixels) of the widest solid patch of a colour mask;
    stray pixels (codec colour bleeding at other shapes' edges) do not count."""
    cols = _longest_run(mask.any(axis=0))
    if cols is None:
        return None
    patch = mask[:, cols[0] : cols[1] + 1]
    rows = _longest_run(patch.any(axis=1))
    if rows is None:
        return None
    width, height = cols[1] - cols[0] + 1, rows[1] - rows[0] + 1
    pixels = int(patch[rows[0] : rows[1] + 1].sum())
    return (cols[0] + cols[1] + 1) / 2, width, pixels / (width * height), pixels


def _moving(video: Video, question: str, qtype: str, options: Sequence[str]) -> Solution:
    h, w = video.frames.shape[1:3]
    text = (question + " " + " ".join(options)).lower()
    named = dict(re.findall(r"\b(" + "|".join(C.PALETTE) + r") (" + "|".join(C.MOVING_SHAPES) + r")\b", text))
    band = video.frames[
        :, round((C.MOVING_Y - C.MOVING_SIZE / 2) * h) : round((C.MOVING_Y + C.MOVING_SIZE / 2) * h)
    ]
    names = classify(band)  # [T, rows, cols]
    size = C.MOVING_SIZE * w  # pixels
    colours = [int(i) for i in np.unique(names[names < _N_PALETTE])]
    blobs = []  # per frame: colour -> (first column, last column, fill)
    for k in range(len(video.frames)):
        found = {}
        for idx in colours:
            blob = _blob(names[k] == idx)
            if blob is not None and blob[3] >= 0.05 * size * size:  # not a few bled pixels at another's edge
                centre, width, fill, _ = blob
                found[idx] = (round(centre - width / 2), round(centre + width / 2) - 1, fill)
        blobs.append(found)
    objects = {}
    for idx in colours:
        track, fills = [], []
        for k, found in enumerate(blobs):
            if idx not in found:
                continue
            c0, c1, fill = found[idx]
            others = [b for j, b in found.items() if j != idx]
            # another shape reaches its left (right) edge from further left (right): it may hide that side
            left = any(b[0] < c0 <= b[1] + 2 for b in others)
            right = any(b[0] - 2 <= c1 < b[1] for b in others)
            if c1 - c0 + 1 >= size - 2 or (not left and not right and c1 - c0 + 1 >= 0.6 * size):
                # whole (nothing in front of it): its centre, and its shape from the share of its box it fills
                track.append((video.times[k], (c0 + c1 + 1) / 2))
                fills.append(fill)
            elif (
                left != right
            ):  # partly hidden by a shape in front: the edge away from that shape is a true edge
                track.append((video.times[k], c1 + 1 - size / 2 if left else c0 + size / 2))
        if len(track) >= 2:
            v, x0 = np.polyfit([t for t, _ in track], [c / w for _, c in track], 1)
            # the prompt's name for the colour, else the shape whose share of its box the pixels fill
            colour = _NAMES[idx]
            shape = named.get(colour)
            if shape is None and len(fills) >= 3:  # seen whole a few times: the shape its pixels fill
                shape = min(SHAPE_FILL, key=lambda name: abs(SHAPE_FILL[name] - float(np.median(fills))))
            shape = shape or "shape"  # hidden behind the others too often to tell
            objects[f"{colour} {shape}"] = (float(x0), float(v))
    if not objects:
        raise SceneError("no shape found on the band")
    steps = ["The frames show shapes sliding along one band; I track each one's position over time."]
    for name, (x0, v) in objects.items():
        direction = "right" if v > 0 else "left"
        steps.append(f"The {name} moves {direction} from {x0:.0%} of the width at {abs(v):.1%} per second.")

    def x(name: str, t: float) -> float:
        x0, v = objects[name]
        return x0 + v * t

    def meet(a: str, b: str) -> float:
        (xa, va), (xb, vb) = objects[a], objects[b]
        return (xb - xa) / (va - vb) if abs(va - vb) > 1e-6 else math.inf

    def order_at(t: float) -> str:
        return ", ".join(sorted(objects, key=lambda n: x(n, t)))

    if qtype in ("state_at_cut", "final_state"):
        t = video.cut_time if qtype == "state_at_cut" else (target_time(question) or ASSUMED_DURATION)
        order = order_at(t)
        return Solution(steps + [f"At {secs(t)} from left to right: {order}."], order)
    pairs = list(itertools.combinations(sorted(objects), 2))
    if qtype == "change_count":
        passed = [p for p in pairs if 0 < meet(*p) < video.cut_time]
        steps.append(
            f"{len(passed)} pairs cross before the cut"
            + (": " + "; ".join(" and ".join(p) for p in passed) if passed else "")
            + "."
        )
        return Solution(steps, str(len(passed)))
    if qtype == "event_order":

        def event_time(event: str) -> float:
            found = [n for n in objects if n in event]
            if "middle" in event and found:
                x0, v = objects[found[0]]
                return (0.5 - x0) / v if abs(v) > 1e-6 else math.inf
            return meet(*found[:2]) if len(found) >= 2 else math.inf

        return Solution(
            steps + ["Ordering the crossings by when they happen."],
            score=order_score(lambda e: event_time(e.lower())),
        )
    _expect(qtype, "next_state")
    ahead = sorted((meet(*p), p) for p in pairs if video.cut_time < meet(*p) < ASSUMED_DURATION)
    if not ahead:
        steps.append(
            f"No pair meets between the cut and about {secs(ASSUMED_DURATION)}, when such videos end."
        )
        return Solution(steps, score=lambda o: float("no two" in o.lower() or "none" in o.lower()))
    t, (a, b) = ahead[0]
    steps.append(f"The {a} and the {b} meet next, near {secs(t)}.")
    return Solution(steps, score=lambda o: float(a in o.lower() and b in o.lower()))


def _slots(video: Video, question: str, qtype: str) -> Solution:
    centres = [((s - 0.5) / C.N_SLOTS, 0.5) for s in range(1, C.N_SLOTS + 1)]
    states = [
        tuple(c if is_palette(c := colour_at(f, x, y, r=2)) else None for x, y in centres)
        for f in video.frames
    ]
    appear, disappear = [], []  # (frame, slot, colour)
    for k in range(len(states)):
        for s in range(C.N_SLOTS):
            before = states[k - 1][s] if k else None
            if states[k][s] != before:
                if before is not None:
                    disappear.append((k, s + 1, before))
                if states[k][s] is not None:
                    appear.append((k, s + 1, states[k][s]))
    steps = ["The frames show four slots; I note when a square appears or disappears in each."]
    for k, _slot, c in sorted(
        [(k, s, f"a {c} square appears in slot {s}") for k, s, c in appear if k]
        + [(k, s, f"the {c} square in slot {s} disappears") for k, s, c in disappear]
    )[:10]:
        steps.append(f"At {secs(video.times[k])} {c}.")
    occupied = sum(c is not None for c in states[-1])
    if qtype == "state_at_cut":
        return Solution(steps + [f"In the last frame {occupied} slots hold a square."], str(occupied))
    if qtype == "change_count":
        events = (
            disappear
            if "disappear" in question.lower() or "leave" in question.lower()
            else [a for a in appear if a[0]]
        )
        return Solution(steps + [f"That makes {len(events)} before the cut."], str(len(events)))
    if qtype == "event_order":
        times = {f"{c} leaves slot {s}": video.times[k] for k, s, c in disappear}
        times |= {f"{c} appears in slot {s}": video.times[k] for k, s, c in appear}
        return Solution(
            steps + ["Ordering these events by when they happen."],
            score=order_score(lambda e: times.get(e.lower(), math.inf)),
        )
    colours = [c for _, _, c in sorted(appear)]
    period_c = next(
        (
            p
            for p in range(1, len(colours))
            if all(colours[i] == colours[i + p] for i in range(len(colours) - p))
        ),
        len(colours),
    )
    frames = [k for k, _, _ in sorted(appear) if k]
    period = int(np.median(np.diff(frames))) if len(frames) >= 2 else len(video.frames)
    stays = [k2 - k1 for k1, s1, _ in appear for k2, s2, _ in disappear if s1 == s2 and k2 > k1 and k1 > 0]
    stay = min(stays) if stays else period * 2
    last_frame, last_slot, _ = sorted(appear)[-1]
    steps.append(
        f"A new square comes every {secs(period / video.fps)} in the next slot, coloured "
        f"{', '.join(colours[:period_c])} in turn, and stays about {secs(stay / video.fps)}."
    )

    def nth(n: int) -> tuple[int, int, str]:  # the n-th square after the last one seen
        return (
            last_frame + n * period,
            (last_slot - 1 + n) % C.N_SLOTS + 1,
            colours[(len(colours) - period_c + (n - 1) % period_c) % len(colours)],
        )

    if qtype == "next_state":
        _, slot, colour = nth(1)
        return Solution(
            steps + [f"So the next one is a {colour} square in slot {slot}."],
            f"a {colour} square in slot {slot}",
        )
    _expect(qtype, "final_state")
    t_end = target_time(question) or ASSUMED_DURATION
    k_end = video.frame_of(t_end)
    shown = [k for k, _, _ in appear] + [nth(n)[0] for n in range(1, 64) if nth(n)[0] <= k_end]
    count = sum(1 for k in shown if k <= k_end < k + stay)
    steps.append(
        f"At {secs(t_end)} the squares that appeared in the last {secs(stay / video.fps)} are still there: {count}."
    )
    return Solution(steps, str(count))


def check_synthetic(frames: np.ndarray) -> None:
    """Raise SceneError unless the frames look drawn by the synthetic renderer: nearly every pixel within codec
    noise of a scene colour, and mostly background. Camera footage, noise or a black screen fail here; without
    this gate the layout probes of :func:`detect_kind` (a few points each) match real video by chance."""
    sample = frames[:: max(1, len(frames) // 8), ::2, ::2].astype(
        np.float32
    )  # a few frames, every other pixel
    near = ((sample[..., None, :] - _RGB) ** 2).sum(axis=-1).min(axis=-1) <= COLOUR_TOLERANCE**2
    known = float(near.reshape(len(sample), -1).mean(axis=1).min())
    if known < KNOWN_SHARE:
        raise SceneError(f"only {known:.0%} of a frame's pixels have the synthetic scenes' colours")
    background = float(
        (((sample - np.float32(C.BACKGROUND)) ** 2).sum(axis=-1) <= COLOUR_TOLERANCE**2).mean()
    )
    if background < BACKGROUND_SHARE:
        raise SceneError(f"only {background:.0%} of the pixels show the synthetic scenes' background")


def _expect(qtype: str, handled: str) -> None:
    """A reader's last branch answers ``handled`` only: a task type no reader knows is a guess that says so."""
    if qtype != handled:
        raise SceneError(f"the baseline has no reader for task type {qtype!r}")


def solve(
    frames: np.ndarray,
    times: Sequence[float],
    fps: float,
    question: str,
    options: Sequence[str],
    qtype: str | None,
) -> Solution:
    """``qtype``: the question's task type, carried by the sample (``task_type``); None reads nothing."""
    if len(frames) == 0:
        raise SceneError("the clip has no frames")
    check_synthetic(frames)
    video = Video(frames, np.asarray(times), fps)
    kind = detect_kind(frames[0])
    if qtype not in TASK_TYPES:
        raise SceneError(
            f"the question carries no known task type ({qtype!r}; known: {', '.join(TASK_TYPES)})"
        )
    if kind in ("traffic_light", "color_cycle"):
        return _cyclic(video, question, qtype, kind)
    if kind == "counter":
        return _counter(video, question, qtype)
    if kind == "container":
        return _container(video, question, qtype)
    if kind == "moving":
        return _moving(video, question, qtype, options)
    return _slots(video, question, qtype)


def respond(video_path: str, prompt: str, task_type: str | None, max_frames: int | None = None) -> str:
    """The model output for one prompt: "Step N:" lines in ``<think>``, the option letter in ``<answer>``.

    ``task_type``: the question's (a sample's ``task_type``), which picks what to read and infer. Never raises:
    a video it cannot decode, frames that are not a synthetic scene it can read (or on which a reader fails), or
    a question without a known task type give an answer that says so and guesses the first option."""
    from ..data.video import load_frames

    question, options = split_prompt(prompt)
    try:
        loaded = load_frames(video_path, nframes=max_frames) if max_frames else load_frames(video_path)
    except Exception as e:  # noqa: BLE001  (whatever the file is, the model answers)
        return _guess(f"I could not read the video ({_short(e)}).", options)
    try:
        solution = solve(loaded.frames, loaded.timestamps, loaded.source_fps, question, options, task_type)
        k = pick_option(solution, options) if options else 0
        steps = [
            *solution.steps,
            solution.conclusion.format(option=options[k] if options else solution.answer),
        ]
    except SceneError as e:
        return _guess(f"I could not read the scene ({e}).", options)
    except Exception as e:  # noqa: BLE001  (a reader that fails on odd frames is a scene it cannot read)
        return _guess(f"I could not read the scene (reading it failed: {_short(e)}).", options)
    return format_response(steps, LETTERS[k] if options else (solution.answer or ""))


def _guess(reason: str, options: Sequence[str]) -> str:
    """An honest guess, said to be one: the first option, or "unknown" for a free-form question."""
    if options:
        return format_response([reason, "So I guess the first option."], LETTERS[0])
    return format_response([reason, "So I cannot answer; I guess it is unknown."], "unknown")


def _short(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
