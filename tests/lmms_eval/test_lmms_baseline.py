"""The pixel-reading baseline: it answers from frames, prompt and the question's task type only, on scenes it has
never seen, and runs through the real lmms-eval CLI via our model entry point."""

import json
import shutil
from pathlib import Path

import pytest
from lmms_fixtures import offline_env, read_run, run_cli

from moss_plugins.cli import main as moss
from moss_plugins.data import TASK_TYPES, load_samples
from moss_plugins.lmms_eval import dataset, scene_solver
from moss_plugins.output_format import split_prompt
from moss_plugins.output_format import answer_blocks, build_prompt, well_formed
from moss_plugins.evaluation.trace_metrics import REFERENCE_METRICS


@pytest.fixture(scope="module")
def fresh_scenes(tmp_path_factory):
    """Scenes rendered now, with a seed the bundled mini split does not use: nothing to have memorised."""
    out = tmp_path_factory.mktemp("synth")
    assert (
        moss(["data", "synth", "--n", "6", "--seed", "99", "--out", str(out), "--split-ratio", "0:0:1"]) == 0
    )
    return out, load_samples(out / "test.jsonl").samples


def test_answers_unseen_scenes_from_the_observed_frames_alone(fresh_scenes, tmp_path):
    root, samples = fresh_scenes
    assert len({s.meta["scene"] for s in samples}) == 6
    correct = 0
    for k, sample in enumerate(samples):
        # The clip alone, copied where no annotation or per-frame state file sits beside it.
        clip = dataset.observed_clip(root / sample.video, sample.observed_until, tmp_path / "cut")
        alone = tmp_path / "alone" / f"{k}.mp4"
        alone.parent.mkdir(exist_ok=True)
        shutil.copyfile(clip, alone)
        output = scene_solver.respond(
            str(alone), build_prompt(sample.question, sample.options), sample.task_type
        )
        assert well_formed(output) and "Step 1:" in output
        correct += answer_blocks(output)[0] == sample.answer
    assert correct / len(samples) >= 0.8  # chance is 0.25


def disc_video(path: Path, colours: list[str], fps: int = 4) -> Path:
    """A colour-cycle scene drawn here from the documented layout: one disc, one palette colour per frame."""
    import numpy as np

    from moss_plugins.data.synth import constants as C
    from moss_plugins.data.synth.render import write_mp4

    w, h = C.DEFAULT_SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (xx - C.DISC_CENTER[0] * w) ** 2 + (yy - C.DISC_CENTER[1] * h) ** 2 <= (C.DISC_R * min(w, h)) ** 2
    frames = np.empty((len(colours), h, w, 3), np.uint8)
    frames[:] = C.BACKGROUND
    for frame, name in zip(frames, colours):
        frame[disc] = C.PALETTE[name]
    write_mp4(frames, path, fps)
    return path


def test_the_answer_follows_the_pixels(tmp_path):
    """Videos drawn here, with no annotation anywhere: the answer is whatever the frames show."""
    question = "What colour is the disc in the last frame before the video is cut?"
    options = ["red", "green", "blue", "yellow"]
    for last, letter in (("green", "B"), ("yellow", "D")):
        video = disc_video(tmp_path / f"{last}.mp4", ["red"] * 4 + ["blue"] * 4 + [last] * 3)
        output = scene_solver.respond(str(video), build_prompt(question, options), "state_at_cut")
        assert answer_blocks(output) == [letter]
        assert "From 0 s to 0.75 s the disc is red." in output
    video = disc_video(
        tmp_path / "cycle.mp4", ["red"] * 2 + ["blue"] * 2 + ["green"] * 2 + ["red"] * 2 + ["blue"]
    )
    prompt = build_prompt("After the cut, which colour will the disc take next?", options)
    assert answer_blocks(scene_solver.respond(str(video), prompt, "next_state")) == [
        "B"
    ]  # red -> blue -> green -> red -> blue
    # The task type picks the reading, whatever the question's words: the same clip and prompt as a count.
    assert "That is 4 changes before the cut." in scene_solver.respond(str(video), prompt, "change_count")


def test_a_question_without_a_known_task_type_is_an_honest_guess(tmp_path):
    video = disc_video(tmp_path / "disc.mp4", ["red"] * 4 + ["blue"] * 4)
    prompt = build_prompt(
        "What colour is the disc in the last frame before the video is cut?", ["red", "blue"]
    )
    for task_type in (None, "colour_at_cut"):
        output = scene_solver.respond(str(video), prompt, task_type)
        assert "could not read the scene (the question carries no known task type" in output
        assert answer_blocks(output) == ["A"]


def test_prompt_parsing():
    prompt = build_prompt(
        "When the video stops, which light is on?", ["red", "green", "none (all lamps off)"]
    )
    assert split_prompt(prompt) == (
        "When the video stops, which light is on?",
        ["red", "green", "none (all lamps off)"],
    )
    assert scene_solver.target_time("What colour is the disc at 9.25 s, the end of the video?") == 9.25


@pytest.mark.parametrize(
    ("option", "interval"),
    [
        ("less than a quarter full", (0.0, 0.25)),
        ("between a quarter and half full", (0.25, 0.5)),
        ("between half and three quarters full", (0.5, 0.75)),
        ("more than three quarters full", (0.75, 1.0)),
        ("more than three quarters full but not yet full", (0.75, 0.999)),
        ("completely full", (1.0, 1.0)),
        ("less than half full", (0.0, 0.5)),
    ],
)
def test_fill_level_options(option, interval):
    assert scene_solver._level_interval(option) == interval


def test_not_a_synthetic_scene_is_an_honest_guess(tmp_path):
    from lmms_fixtures import write_video

    video = tmp_path / "v.mp4"
    write_video(video, ["red", "green", "blue"], size=32)
    output = scene_solver.respond(str(video), build_prompt("What is this?", ["a", "b"]), "state_at_cut")
    assert "could not read the scene" in output and answer_blocks(output) == ["A"]


@pytest.mark.slow
def test_lmms_eval_cli_with_the_baseline_on_the_bundled_split(tmp_path, monkeypatch):
    """`lmms-eval --model moss_baseline --tasks moss_video`: no --include_path, no dataset variable, offline."""
    env = offline_env()
    env.pop(dataset.DATA_ENV, None)
    run_cli(
        [
            "--model",
            "moss_baseline",
            "--tasks",
            "moss_video",
            "--output_path",
            str(tmp_path / "out"),
            "--log_samples",
        ],
        env,
        tmp_path,
    )
    results, samples = read_run(tmp_path / "out", "moss_video")
    row = results["results"]["moss_video"]
    for metric in REFERENCE_METRICS:
        assert 0.0 <= row[f"{metric},none"] <= 1.0
        assert len(row[f"{metric}_ci95,none"]) == 2
        for task_type in TASK_TYPES:
            assert f"{metric}/{task_type},none" in row
    assert row["accuracy,none"] >= 0.8 and row["format_rate,none"] == 1.0
    assert Path(row["report,none"]).is_file()
    assert len(samples) == 60
    for sample in samples:
        assert sample["filtered_resps"].startswith(
            "<think>\nStep 1:"
        )  # the raw trace, <think> block included
        assert sample["report"]["pred_steps"]
    ids = [
        json.loads(line)["id"] for line in (Path(dataset.data_dir()) / "test.jsonl").read_text().splitlines()
    ]
    assert [s["report"]["id"] for s in sorted(samples, key=lambda s: s["doc_id"])] == ids
