"""``moss data synth``: reproducible, valid, balanced, answerable from the visible frames, and readable from
pixels with the documented rendering conventions alone."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.cli import main
from moss_plugins.data import TASK_TYPES, load_samples, mini_split_dir
from moss_plugins.data.synth import KINDS, SynthConfig, generate
from moss_plugins.data.synth import constants as C
from moss_plugins.data.synth.generate import video_splits, make_scene, tasks_for
from moss_plugins.data.synth.base import Scene
from moss_plugins.data.video import load_frames

MINI_COMMAND = [
    "data",
    "synth",
    "--n",
    "24",
    "--seed",
    "0",
    "--split-ratio",
    "0.5:0:0.5",
]  # as docs/data.md says


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mini():
    samples = load_samples(mini_split_dir()).samples
    states = {}
    for s in samples:
        states.setdefault(s.video, json.loads((mini_split_dir() / s.meta["states"]).read_text("utf-8")))
    return samples, states


def _encoder(mp4: bytes) -> bytes:
    """The x264 build string the encoder writes into the stream ("x264 - core 165 - ...")."""
    start = mp4.find(b"x264 - core")
    return mp4[start : mp4.find(b" - ", start + 12)]


def test_the_bundled_mini_split_is_what_the_documented_command_writes(tmp_path):
    assert main([*MINI_COMMAND, "--out", str(tmp_path)]) == 0
    ours, bundled = _files(tmp_path), _files(mini_split_dir())
    assert ours.keys() == bundled.keys()
    assert sum(len(b) for b in bundled.values()) < 2_000_000  # "a few MB at most"
    for name, data in ours.items():
        if not name.endswith(".mp4") or _encoder(data) == _encoder(bundled[name]):
            assert data == bundled[name], (
                name
            )  # same JSON bytes; same video bytes from the same encoder build
        else:  # another PyAV wheel bundles another x264: the frames must still agree
            a, b = (
                load_frames(folder / name, timeout=None).frames.astype(int)
                for folder in (tmp_path, mini_split_dir())
            )
            assert np.abs(a - b).mean() < 2, name


def test_same_seed_same_bytes_and_frames_another_seed_differs(tmp_path):
    config = SynthConfig(tasks_per_video=2, split_ratio={"train": 0.5, "test": 0.5})
    a = generate(6, 7, tmp_path / "a", config, progress=False)
    generate(6, 7, tmp_path / "b", config, workers=2, progress=False)  # in worker processes: still the same
    generate(6, 8, tmp_path / "c", config, progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert a["counts"] == {"test": 6, "train": 6} and a["videos_per_s"] > 0
    for name in ("synth-s7-00000.mp4", "synth-s7-00004.mp4"):
        frames = [load_frames(tmp_path / d / "videos" / name, timeout=None).frames for d in ("a", "b")]
        assert np.array_equal(*frames)
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()


def test_every_kind_and_task_in_both_splits_with_balanced_letters(mini):
    samples, _ = mini
    for split in ("train", "test"):
        xs = [s for s in samples if s.split == split]
        assert {(s.meta["scene"], s.task_type) for s in xs} == {(k, t) for k in KINDS for t in TASK_TYPES}
        letters = Counter(s.answer for s in xs)
        assert set(letters) == set("ABCD") and max(letters.values()) - min(letters.values()) <= 1
        assert all(len(s.options) == 4 and s.source == "synthetic" for s in xs)
    by_video = {}
    for s in samples:
        assert by_video.setdefault(s.video, s.split) == s.split  # a video is never in two splits


def test_traces_use_only_the_visible_part(mini):
    samples, _ = mini
    for s in samples:
        assert all(step.t[0] <= step.t[1] <= s.observed_until for step in s.trace), s.id
        cut = s.meta["cut_frame"]
        assert (
            s.observed_until == (cut - 0.5) / s.meta["fps"]
        )  # halfway between the last shown and first masked
        assert s.trace[-1].t == (
            (cut - 1) / s.meta["fps"],
            s.observed_until,
        )  # ends with the inference at the cut


def test_answers_agree_with_the_per_frame_ground_truth(mini):
    samples, states = mini
    checked = Counter()
    for s in samples:
        frames = states[s.video]["states"]
        last, cut = frames[-1], s.meta["cut_frame"]
        kind, task, answer = s.meta["scene"], s.task_type, s.answer_text
        key = {"traffic_light": "light", "color_cycle": "color"}.get(kind)
        if key and task in ("state_at_cut", "final_state"):
            assert answer == (frames[cut - 1] if task == "state_at_cut" else last)[key]
        elif key and task == "change_count":
            assert int(answer) == sum(a[key] != b[key] for a, b in pairwise(frames[:cut]))
        elif kind == "counter" and task in ("state_at_cut", "final_state", "next_state"):
            values = [f["value"] for f in frames]
            expected = {
                "state_at_cut": values[cut - 1],
                "final_state": values[-1],
                "next_state": next(v for v in values[cut:] if v != values[cut - 1]),
            }[task]
            assert int(answer) == expected
        elif kind == "slots" and task in ("state_at_cut", "final_state"):
            assert int(answer) == (frames[cut - 1] if task == "state_at_cut" else last)["count"]
        elif kind == "moving" and task in ("state_at_cut", "final_state"):
            assert answer == ", ".join((frames[cut - 1] if task == "state_at_cut" else last)["order"])
        else:
            continue
        checked[kind] += 1
    assert set(checked) == set(KINDS) - {"container"} and sum(checked.values()) >= 40


def test_numeric_answers_are_not_always_the_middle_option(mini):
    samples, _ = mini
    ranks = Counter()
    for s in samples:
        if all(o.isdigit() for o in s.options):
            ranks[sorted(s.options, key=int).index(s.answer_text)] += 1
    assert sum(ranks.values()) >= 20 and len(ranks) == 4 and min(ranks.values()) >= 2


# --- reading the frames with the documented conventions only ---------------------------------------------


NAMES = np.array(list(C.PALETTE) + ["background", "unlit", "outline", "slot", "housing"])
REFS = np.array(list(C.PALETTE.values()) + [C.BACKGROUND, C.UNLIT, C.OUTLINE, C.SLOT, C.HOUSING], float)


def _nearest(rgb):
    """The name of the nearest documented colour, for one pixel or an array of them."""
    rgb = np.asarray(rgb, float)
    names = NAMES[np.argmin(((rgb[..., None, :] - REFS) ** 2).sum(axis=-1), axis=-1)]
    return str(names) if names.ndim == 0 else names


def _at(frame, x, y):
    h, w = frame.shape[:2]
    return frame[min(int(y * h), h - 1), min(int(x * w), w - 1)]


def _read(kind: str, frame: np.ndarray, meta: dict) -> dict:
    """The state a pixel-reading baseline gets from one frame, using only the constants module."""
    h, w = frame.shape[:2]
    if kind == "traffic_light":
        lit = [n for n, y in C.TRAFFIC_LAMPS.items() if _nearest(_at(frame, 0.5, y)) == n]
        return {"light": lit[0] if len(lit) == 1 else lit}
    if kind == "color_cycle":
        return {"color": _nearest(_at(frame, *C.DISC_CENTER))}
    if kind == "slots":
        visible = {str(i): _nearest(_at(frame, (i - 0.5) / C.N_SLOTS, 0.5)) for i in range(1, C.N_SLOTS + 1)}
        return {"count": sum(c in C.PALETTE for c in visible.values())}
    if kind == "counter":
        value = 0
        for x0, y0, x1, y1 in C.DIGIT_BOXES:  # the middle of each segment: lit or not
            th, ym = C.SEGMENT_WIDTH * (x1 - x0), (y0 + y1) / 2
            tv = th * w / h
            centres = {
                "a": ((x0 + x1) / 2, y0 + tv / 2),
                "b": (x1 - th / 2, (y0 + ym) / 2),
                "c": (x1 - th / 2, (ym + y1) / 2),
                "d": ((x0 + x1) / 2, y1 - tv / 2),
                "e": (x0 + th / 2, (ym + y1) / 2),
                "f": (x0 + th / 2, (y0 + ym) / 2),
                "g": ((x0 + x1) / 2, ym),
            }
            lit = "".join(
                sorted(s for s, (x, y) in centres.items() if _nearest(_at(frame, x, y)) in C.PALETTE)
            )
            value = 10 * value + next(d for d, segs in C.SEGMENTS.items() if "".join(sorted(segs)) == lit)
        return {"value": value}
    if kind == "container":
        levels = {}
        for side, (x0, y0, x1, y1) in C.TANKS.items():
            column = _nearest(frame[:, int((x0 + x1) / 2 * w)])
            top, bottom = int(y0 * h) + C.TANK_WALL_PX, int(y1 * h) - C.TANK_WALL_PX
            levels[side] = np.isin(column[top:bottom], list(C.PALETTE)).mean()
        return levels
    if kind == "moving":  # left-to-right order of the colours' centroids
        names = {o["color"]: f"{o['color']} {o['shape']}" for o in meta["params"]["objects"]}
        band = frame[int(0.35 * h) : int(0.65 * h)]
        labels = _nearest(band)
        xs = {c: np.nonzero(labels == c)[1].mean() for c in names if (labels == c).any()}
        return {"order": [names[c] for c in sorted(xs, key=xs.get)]}
    raise AssertionError(kind)


def test_every_frame_reads_back_to_its_ground_truth_state(mini):
    samples, states = mini
    meta_of = {s.video: s.meta for s in samples}
    for video, truth in states.items():
        frames = load_frames(mini_split_dir() / video, timeout=None).frames
        assert len(frames) == truth["n_frames"] == len(truth["states"])
        kind = truth["scene"]
        for k, (frame, state) in enumerate(zip(frames, truth["states"])):
            seen = _read(kind, frame, meta_of[video])
            where = f"{video} frame {k}"
            if kind == "container":
                for side in C.TANKS:
                    assert seen[side] == pytest.approx(state[side]["level"], abs=0.03), where
            elif kind == "moving":
                if not state["hidden"]:  # while one hides another, their centroids are not the positions
                    assert seen["order"] == state["order"], where
            else:
                assert seen == {key: state[key] for key in seen}, where


# --- configuration and the command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [SynthConfig(fps=2, duration=(20, 24)), SynthConfig(fps=8, size=(64, 48)), SynthConfig(duration=(6, 7))],
    ids=["2fps-long", "8fps-small", "short"],
)
def test_every_kind_answers_every_task_at_other_rates_and_lengths(config):
    for index in range(len(KINDS) * 2):
        scene, questions = make_scene(11, index, config)
        assert [q.task for q in questions] == tasks_for(index, len(TASK_TYPES))
        assert scene.render().shape == (scene.timing.n_frames, config.size[1], config.size[0], 3)


def test_a_scene_kind_that_misses_a_task_type_is_refused_when_it_is_defined():
    from moss_plugins.data.synth.counter import Counter as CounterScene
    from moss_plugins.data.synth.cyclic import ColorCycle, CyclicScene

    with pytest.raises(
        TypeError, match=r"scene kind 'half'.* has no ask_next_state, ask_event_order, ask_change_count:"
    ):
        type(
            "Half",
            (Scene,),
            {
                "kind": "half",
                "ask_next_state": None,
                "ask_final_state": lambda s, r: None,
                "ask_state_at_cut": lambda s, r: None,
            },
        )
    with pytest.raises(TypeError, match=r"scene kind 'typo'.*: ask_next_sate asks no task type"):
        type("Typo", (CounterScene,), {"kind": "typo", "ask_next_sate": lambda s, r: None})
    with pytest.raises(
        TypeError, match=r"scene kind 'mute'.*question_texts has .*needs one entry per task type"
    ):
        type("Mute", (CyclicScene,), {"kind": "mute", "question_texts": {"next_state": ("?",)}})
    type("Family", (CyclicScene,), {})  # no kind: a family of kinds, checked in its kinds
    assert set(ColorCycle.askers) == set(TASK_TYPES)
    with pytest.raises(ValueError, match="'colour_count' is not a task type"):
        make_scene(11, 1, SynthConfig())[0].question("colour_count", np.random.default_rng(0))


def test_splits_are_exact_and_stratified_by_kind():
    splits = video_splits(120, 3, {"train": 0.8, "val": 0.1, "test": 0.1})
    assert Counter(splits) == {"train": 96, "val": 12, "test": 12}
    for k in range(len(KINDS)):
        assert Counter(splits[k :: len(KINDS)]) == {"train": 16, "val": 2, "test": 2}


def test_tasks_rotate_over_videos():
    assert tasks_for(0, 5) == list(TASK_TYPES)
    asked = Counter(t for i in range(60) for t in tasks_for(i, 2))
    assert set(asked) == set(TASK_TYPES) and max(asked.values()) - min(asked.values()) <= len(KINDS) * 2
    assert all(len(set(tasks_for(i, 3))) == 3 for i in range(30))


def test_cli_options(tmp_path, capsys):
    out = tmp_path / "s"
    assert (
        main(
            [
                "data",
                "synth",
                "--n",
                "3",
                "--seed",
                "1",
                "--out",
                str(out),
                "--split-ratio",
                "1:0:0",
                "--tasks-per-video",
                "2",
                "--fps",
                "5",
                "--size",
                "96x64",
                "--duration",
                "9:10",
            ]
        )
        == 0
    )
    assert "videos/s" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["train.jsonl"]
    samples = load_samples(out).samples
    assert len(samples) == 6 and {s.meta["fps"] for s in samples} == {5}
    frames = load_frames(out / samples[0].video, timeout=None)
    assert frames.frames.shape[1:3] == (64, 96) and 9 <= frames.duration <= 10
    for bad in (
        ["--split-ratio", "1:1"],
        ["--size", "33x32"],
        ["--tasks-per-video", "6"],
        ["--duration", "2:3"],
    ):
        try:
            code = main(["data", "synth", "--n", "1", "--out", str(tmp_path / "bad"), *bad])
        except SystemExit as e:  # argparse's own checks
            code = e.code
        assert code == 2


def test_two_shapes_at_the_same_speed_never_meet_and_do_not_crash_the_scene():
    """Video 3406 of seed 0 draws two shapes with equal speeds: their meeting time is infinite, and
    ``inf // 1`` is NaN (`moss data synth --n 3500` stopped there)."""
    scene, questions = make_scene(0, 3406, SynthConfig())
    speeds = [o["v"] for o in scene.params["objects"]]
    assert scene.kind == "moving" and len(set(speeds)) < len(speeds) and all(questions)
