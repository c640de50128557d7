"""Procedurally rendered MOSS-Video scenes with exact per-frame ground truth (``moss data synth``).

Scene kinds: a traffic light, a colour-cycling disc, two tanks filling, a seven-segment counter, shapes
passing each other, squares appearing and disappearing in slots. Rendering conventions (what a pixel-reading
model needs) are in :mod:`moss_plugins.data.synth.constants`.
"""

from .generate import KINDS, SCENES, SynthConfig, generate, make_scene

__all__ = ["KINDS", "SCENES", "SynthConfig", "generate", "make_scene"]
