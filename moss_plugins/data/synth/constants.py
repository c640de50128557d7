"""Rendering conventions of the synthetic MOSS-Video scenes: everything a pixel-reading model needs.

A baseline that reads frames only (never the annotations) can decode every scene with these constants:

Frames and time
    Frame ``k`` shows the scene's state at ``k / fps`` seconds (its timestamp). ``observed_until`` lies halfway
    between the last visible frame and the first masked one, ``(K - 0.5) / fps`` for ``K`` visible frames, so a
    reader that includes or excludes a frame exactly at the cut gets the same frames. "The last frame" of a
    video is frame ``n_frames - 1``; questions about it give its time.

Colours
    Background :data:`BACKGROUND`; every coloured object uses exactly one :data:`PALETTE` colour (classify a
    decoded pixel by its nearest palette entry: H.264 moves colours by about 10 per channel). Unlit lamps and
    unlit display segments are :data:`UNLIT`; outlines, tank walls and marks are :data:`OUTLINE`; empty slots
    are :data:`SLOT`. Shapes are drawn without anti-aliasing.

Layout
    Positions below are fractions of the frame width (x) and height (y); ``R`` is a fraction of
    ``min(width, height)``. Each scene kind draws only its own elements, so the kind can be told from the
    layout (and the question names it).

Option texts
    Colours are palette names; counts are digits; orders are comma-separated names, e.g.
    ``"red circle, blue square, green triangle"`` or ``"red, then green, then yellow"``.
"""

from __future__ import annotations

# --- frames ---------------------------------------------------------------------------------------------
DEFAULT_FPS = 4
DEFAULT_SIZE = (112, 112)  # width, height
DEFAULT_DURATION = (8.0, 12.0)  # seconds, drawn per video
CODECS = ("libx264", "mpeg4")  # the first one this PyAV build can encode is used

# --- colours (RGB) --------------------------------------------------------------------------------------
BACKGROUND = (30, 30, 30)
UNLIT = (70, 70, 70)
OUTLINE = (200, 200, 200)
SLOT = (90, 90, 90)
HOUSING = (10, 10, 10)
PALETTE = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (40, 90, 230),
    "yellow": (235, 210, 40),
    "purple": (150, 70, 210),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
    "pink": (240, 120, 190),
}

# --- traffic_light: one lamp lit at a time, cycling red -> green -> yellow -> red -------------------------
# Housing: HOUSING rectangle x in [0.38, 0.62], y in [0.06, 0.94]. Lamps: discs of radius R=0.1 at x=0.5,
# y = 0.22 (red), 0.50 (yellow), 0.78 (green); the lit one in its palette colour, the others UNLIT.
TRAFFIC_HOUSING = (0.38, 0.06, 0.62, 0.94)
TRAFFIC_LAMPS = {"red": 0.22, "yellow": 0.50, "green": 0.78}  # lamp -> centre y
TRAFFIC_LAMP_R = 0.1
TRAFFIC_CYCLE = ("red", "green", "yellow")

# --- color_cycle: a disc that takes 3-4 palette colours in a fixed repeating order, same time per colour ---
# Disc centre (0.5, 0.5), radius R=0.32.
DISC_CENTER = (0.5, 0.5)
DISC_R = 0.32

# --- container: two tanks filling at constant rates (level = fraction of the inner height) ---------------
# Tank walls: OUTLINE rectangles (2 px) x in [0.14, 0.42] (left) and [0.58, 0.86] (right), y in [0.12, 0.90];
# liquid: the tank's palette colour filling the inside from the bottom up to the level. Marks: OUTLINE ticks
# to the left of each tank at 1/4, 1/2 and 3/4 of the inner height.
TANKS = {"left": (0.14, 0.12, 0.42, 0.90), "right": (0.58, 0.12, 0.86, 0.90)}
TANK_WALL_PX = 2
TANK_MARKS = (0.25, 0.5, 0.75)
MARK_NAMES = {0.25: "1/4", 0.5: "1/2", 0.75: "3/4", 1.0: "top"}

# --- counter: a two-digit seven-segment display, changing by a fixed step at a fixed period --------------
# Digit boxes x in [0.16, 0.46] (tens) and [0.54, 0.84] (units), y in [0.22, 0.78]; lit segments in the
# display's palette colour, unlit ones UNLIT. Segments a-g in the usual order (a top, b top right, c bottom
# right, d bottom, e bottom left, f top left, g middle); both digits always shown ("07").
DIGIT_BOXES = ((0.16, 0.22, 0.46, 0.78), (0.54, 0.22, 0.84, 0.78))
SEGMENT_WIDTH = 0.16  # fraction of the digit box width
SEGMENTS = {  # digit -> lit segments
    0: "abcdef",
    1: "bc",
    2: "abdeg",
    3: "abcdg",
    4: "bcfg",
    5: "acdfg",
    6: "acdefg",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}

# --- moving: three shapes sliding horizontally at constant speeds on one band, passing each other ---------
# Band centre y=0.5; each shape fits a square of side 0.2 (of the width) centred at its x. Depth is fixed:
# shapes listed later in the scene's parameters are drawn in front (they hide the ones behind them).
# Shapes: "circle" (disc), "square", "triangle" (pointing up).
MOVING_Y = 0.5
MOVING_SIZE = 0.2
MOVING_SHAPES = ("circle", "square", "triangle")

# --- slots: squares appearing and disappearing in a row of four slots ------------------------------------
# Slot i (1-4 from the left) is a SLOT outline square of side 0.18 centred at x=(i - 0.5)/4, y=0.5; an
# object fills it in a palette colour. Objects appear one at a time, in slot order 1, 2, 3, 4, 1, ..., with
# colours repeating in a fixed sequence, at a fixed period, and each stays for a fixed time.
N_SLOTS = 4
SLOT_SIZE = 0.18
