"""``moss data build``: annotations in, valid leak-free MOSS-Video samples out (tiny PyAV videos in tmp_path)."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import av
import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, BuildError, video_splits, build_dataset
from moss_plugins.reward import rouge_f
from moss_plugins.sample import ValidationError
from moss_plugins.testing.annotated_videos import write_annotated_videos

FPS = 8
OBJECTS = ["cup", "ball", "lamp", "door", "box", "plant", "kettle", "chair"]
ACTIONS = [
    "is lifted off the table",
    "rolls to the left",
    "turns on",
    "opens slowly",
    "is painted red",
    "falls over",
    "fills with water",
    "spins in place",
]


def caption(video: int, k: int) -> str:
    return f"The {OBJECTS[(video + k) % 8]} {ACTIONS[(3 * video + k) % 8]} near marker v{video}s{k}"


def write_annotated(folder: Path, n_videos: int, n_segments: int = 6) -> Path:
    """n videos of n_segments one-second segments (at FPS), annotated in the segments layout; returns the JSONL."""
    return write_annotated_videos(
        folder, [[caption(v, k) for k in range(n_segments)] for v in range(n_videos)], fps=FPS
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """12 annotated videos built once (in-process) with the default configuration."""
    root = tmp_path_factory.mktemp("build")
    annotations = read_annotations(write_annotated(root / "src", 12))
    report = build_dataset(annotations, root / "out", BuildConfig(seed=3))
    return root, report, load_samples(root / "out").samples


def test_built_samples_validate_and_load(built):
    root, report, samples = built
    assert main(["data", "validate", str(root / "out")]) == 0
    assert len(samples) == sum(report.samples.values()) > 50
    assert {s.task_type for s in samples} == {"next_state", "final_state", "event_order"}
    for s in samples:
        assert (root / "out" / s.video).is_file()


def test_question_targets_the_segment_after_the_cut_and_trace_stops_there(built):
    _, _, samples = built
    for s in samples:
        v, k, n = int(s.meta["video_id"][1:]), s.meta["cut_segment"], s.meta["n_segments"]
        assert s.observed_until == float(k)  # the end of the last observed segment
        observed = [caption(v, j) for j in range(k)]
        assert [step.text for step in s.trace[:-1]] == observed  # only what was seen, in order
        assert all(step.t[1] <= s.observed_until for step in s.trace)
        assert s.trace[-1].t == (s.observed_until, s.observed_until)  # the inference step, at the cut
        if s.task_type == "next_state":
            assert s.answer_text == caption(v, k)
        elif s.task_type == "final_state":
            assert s.answer_text == caption(v, n - 1)
        else:  # the listed events are the next three, and the answer gives their true order
            listed = s.question.split("\n")[1:4]
            by_label = {line.split(". ", 1)[0]: line.split(". ", 1)[1] for line in listed}
            order = [by_label[label] for label in s.answer_text.split(", then ")]
            assert order == [caption(v, k), caption(v, k + 1), caption(v, k + 2)]


def test_no_future_caption_in_the_observed_trace(built):
    """The leak test of the builder: no step before the inference one mentions a segment after the cut."""
    _, _, samples = built
    for s in samples:
        v, k = int(s.meta["video_id"][1:]), s.meta["cut_segment"]
        future_markers = [f"v{v}s{j}" for j in range(k, s.meta["n_segments"])]
        for step in s.trace[:-1]:
            assert not any(marker in step.text for marker in future_markers)


def test_split_is_by_video_and_deterministic(built, tmp_path):
    root, report, samples = built
    videos = defaultdict(set)
    for s in samples:
        videos[s.split].add(s.meta["video_id"])
    assert not videos["train"] & videos["test"]
    assert len(videos["test"]) == round(12 * BuildConfig().test_fraction)
    again = build_dataset(read_annotations(root / "src" / "annotations.jsonl"), tmp_path, BuildConfig(seed=3))
    assert again.samples == report.samples
    for split in ("train", "test"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (root / "out" / f"{split}.jsonl").read_bytes()
    ids = [f"v{k}" for k in range(40)]
    assert video_splits(ids, 0.25, 1) == video_splits(list(reversed(ids)), 0.25, 1)  # order does not matter
    assert video_splits(ids, 0.25, 1) != video_splits(ids, 0.25, 2)


def test_build_into_the_folder_holding_the_annotations(tmp_path):
    """--out may hold other *.jsonl (here the annotation file itself): the build checks only what it wrote."""
    src = write_annotated(tmp_path, 3)
    before = src.read_bytes()
    report = build_dataset(read_annotations(src), tmp_path, BuildConfig(test_fraction=0.34))
    assert src.read_bytes() == before
    assert report.files == [str(tmp_path / "train.jsonl"), str(tmp_path / "test.jsonl")]
    loaded = [s for path in sorted(report.files) for s in load_samples(path).samples]
    assert report.written == loaded and len(loaded) == sum(report.samples.values()) > 0
    assert all((tmp_path / s.video).is_file() for s in loaded)


def test_answer_letters_are_balanced_per_split_and_task(built):
    _, _, samples = built
    groups = defaultdict(Counter)
    for s in samples:
        groups[(s.split, s.task_type)][s.answer] += 1
    for counts in groups.values():
        full = [counts.get(letter, 0) for letter in "ABCD"]
        assert max(full) - min(full) <= 1, counts


def test_options_are_distinct_and_far_from_each_other(built):
    _, _, samples = built
    for s in samples:
        assert len(s.options) == 4 and len(set(s.options)) == 4
        if s.task_type != "event_order":
            for a, b in itertools.combinations(s.options, 2):
                assert rouge_f(a, b)[2] < BuildConfig().max_similarity, (a, b)


def test_distractors_come_from_the_same_video_and_other_videos(built):
    _, _, samples = built
    own = other = 0
    for s in samples:
        if s.task_type == "event_order":
            continue
        for option in s.options:
            if option != s.answer_text:
                own += f"v{s.meta['video_id'][1:]}s" in option
                other += f"v{s.meta['video_id'][1:]}s" not in option
    assert own and other


def test_near_copy_of_the_answer_is_never_an_option(tmp_path):
    """Segment 1 differs from segment 3 by one word; any question whose answer is one never offers the other."""
    near = [
        "The red ball rolls slowly to the left edge of the old wooden table",
        "The red ball rolls slowly to the right edge of the old wooden table",
    ]
    captions = [[caption(v, 0), near[0], caption(v, 2), near[1], caption(v, 4)] for v in range(6)]
    src = write_annotated_videos(tmp_path, captions)
    build_dataset(read_annotations(src), tmp_path / "out", BuildConfig(test_fraction=0.0))
    samples = [s for s in load_samples(tmp_path / "out").samples if s.answer_text in near]
    assert samples
    for s in samples:
        assert not set(near) - {s.answer_text} & set(s.options)


def test_cut_clips_hold_no_frame_from_the_future(tmp_path):
    src = write_annotated(tmp_path / "src", 2, n_segments=4)
    build_dataset(read_annotations(src), tmp_path / "out", BuildConfig(cut_clips=True, test_fraction=0.5))
    samples = load_samples(tmp_path / "out").samples
    assert samples
    for s in samples:
        assert s.video.startswith("clips/")
        with av.open(str(tmp_path / "out" / s.video)) as container:
            times = [frame.time for frame in container.decode(video=0)]
        assert max(times) < s.observed_until
        assert len(times) == round(s.observed_until * FPS) == s.meta["clip_frames"]


def test_sharegpt4video_layout(tmp_path):
    """Keyframe timestamps + per-interval differential captions; the whole-video caption never appears."""
    write_annotated_videos(tmp_path, [["frame"] * 6], names=["clip"])
    row = {
        "video_id": "abc",
        "video_path": "clip.mp4",
        "zip_folder": "mixkit_1.zip",
        "keyframe": [0, 16, 32, 48],
        "timestamp": [0.0, 2.0, 4.0, 6.0],
        "captions": [
            {"idx": "0", "content": "A kettle stands on a cold stove."},
            {"idx": "1", "content": "Someone lights the burner under the kettle."},
            {"idx": "2", "content": "Steam starts to rise from the spout."},
            {"idx": "3", "content": "The kettle whistles and the burner is turned off."},
            {"idx": "-1", "content": "SUMMARY of the whole video"},
        ],
    }
    (tmp_path / "sg.jsonl").write_text(json.dumps(row) + "\n")
    (ann,) = read_annotations(tmp_path / "sg.jsonl")
    assert [(s.start, s.end) for s in ann.segments] == [(0, 0), (0, 2), (2, 4), (4, 6)]
    assert ann.video_id == "abc" and ann.meta == {"zip_folder": "mixkit_1.zip"}
    build_dataset([ann], tmp_path / "out", BuildConfig(test_fraction=0.0))
    samples = load_samples(tmp_path / "out").samples
    assert {(s.observed_until, s.task_type) for s in samples} == {
        (2.0, "next_state"),
        (2.0, "final_state"),
        (4.0, "next_state"),
    }
    text = (tmp_path / "out" / "train.jsonl").read_text()
    assert "SUMMARY" not in text


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            {"video": "v.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [0.5, 2], "caption": "b"}]},
            "segments[1].t",
        ),
        (
            {"video": "v.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": ""}]},
            "segments[1].caption",
        ),
        ({"video": "v.mp4", "segments": [{"t": [0, 1], "caption": "a"}]}, "segments"),
        (
            {"video": "v.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, "x"], "caption": "b"}]},
            "segments[1].t[1]",
        ),
        (
            {
                "video": "v.mp4",
                "duration": 1.5,
                "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": "b"}],
            },
            "segments[1].t",
        ),
        ({"video": "v.mp4", "segmnts": []}, "segments"),
        (
            {
                "video": "v.mp4",
                "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": "b"}],
                "meta": [],
            },
            "meta",
        ),
        ({"video": "v.mp4", "segments": [], "extra": 1}, "extra"),
        ({"video_id": "x", "timestamp": [0, 2], "captions": [{"idx": "0", "content": "a"}]}, "captions"),
        (
            {
                "video_id": "x",
                "timestamp": [0, 2],
                "captions": [{"idx": "0", "content": "a"}, {"idx": "5", "content": "b"}],
            },
            "captions[1].idx",
        ),
        ({"video_id": "x", "timestamp": [0, "soon"], "captions": []}, "timestamp[1]"),
    ],
)
def test_annotation_errors_name_file_line_and_field(tmp_path, row, field):
    good = {"video": "ok.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": "b"}]}
    path = tmp_path / "ann.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(row) + "\n")
    with pytest.raises(ValidationError) as e:
        read_annotations(path)
    assert e.value.where == f"{path}:3" and e.value.field == field
    assert str(e.value).startswith(f"{path}:3: {field}: ")


def test_json_list_annotations_are_located_by_item(tmp_path):
    good = {"video": "ok.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": "b"}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps([good, dict(good, video="b.mp4")]))
    assert [a.video_id for a in read_annotations(path)] == ["ok", "b"]
    path.write_text(json.dumps([good, dict(good, video="")]))
    with pytest.raises(
        ValidationError, match=rf"^{re.escape(str(path))}:item 1: video: must be a non-empty string"
    ):
        read_annotations(path)


def test_duplicate_video_ids_name_both_rows(tmp_path):
    row = {"video": "a/v.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [1, 2], "caption": "b"}]}
    other = dict(row, video="b/v.mp4")
    (tmp_path / "ann.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(other) + "\n")
    with pytest.raises(ValidationError, match=r"ann.jsonl:2: id: video id 'v' already used at .*ann.jsonl:1"):
        read_annotations(tmp_path / "ann.jsonl")


def test_unusable_videos_stop_the_build_or_are_skipped_and_counted(tmp_path):
    src = write_annotated(tmp_path, 5)
    (tmp_path / "v1.mp4").unlink()
    (tmp_path / "v2.mp4").write_bytes(b"not a video at all")
    lines = src.read_text().splitlines()
    long, wrong = json.loads(lines[3]), json.loads(lines[4])
    long["segments"].append({"t": [6, 60], "caption": "much later"})  # the videos last 6 s
    wrong["duration"] = 30.0
    src.write_text("\n".join([*lines[:3], json.dumps(long), json.dumps(wrong)]) + "\n")
    annotations = read_annotations(src)
    with pytest.raises(ValidationError) as e:
        build_dataset(annotations, tmp_path / "out")
    assert (e.value.where, e.value.field) == (f"{src}:2", "video") and "does not exist" in e.value.message
    with pytest.raises(ValidationError) as e:
        build_dataset([annotations[2]], tmp_path / "out")
    assert (e.value.where, e.value.field) == (f"{src}:3", "video") and "cannot read" in e.value.message
    with pytest.raises(ValidationError) as e:
        build_dataset([annotations[3]], tmp_path / "out")
    assert (e.value.where, e.value.field) == (f"{src}:4", "segments")
    with pytest.raises(ValidationError) as e:
        build_dataset([annotations[4]], tmp_path / "out")
    assert (e.value.where, e.value.field) == (f"{src}:5", "duration") and "lasts 6.00 s" in e.value.message
    report = build_dataset(annotations, tmp_path / "out", BuildConfig(skip_invalid=True, test_fraction=0))
    assert report.skipped_videos == Counter({"video": 2, "segments": 1, "duration": 1})
    assert len(report.first_errors) == 4
    assert {s.meta["video_id"] for s in load_samples(tmp_path / "out").samples} == {"v0"}


def test_bad_configuration_is_rejected():
    with pytest.raises(BuildError, match="tasks"):
        BuildConfig(tasks=("next_state", "weather"))
    with pytest.raises(BuildError, match="test_fraction"):
        BuildConfig(test_fraction=1.0)


def test_cli_build(tmp_path, capsys):
    src = write_annotated(tmp_path / "src", 3)
    assert (
        main(
            [
                "data",
                "build",
                str(src),
                "--out",
                str(tmp_path / "out"),
                "--tasks",
                "next_state",
                "--max-per-video",
                "2",
                "--test-fraction",
                "0.34",
                "--copy-videos",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "6 samples" in out and "train: 4, test: 2" in out
    samples = load_samples(tmp_path / "out").samples
    assert {s.task_type for s in samples} == {"next_state"}
    assert not (tmp_path / "out" / samples[0].video).is_symlink()
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["samples"] == {"train": 4, "test": 2}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"video": "v0.mp4", "segments": [{"t": [0, 1], "caption": "a"}, {"t": [2, 1], "caption": "b"}]}\n'
    )
    assert main(["data", "build", str(bad), "--out", str(tmp_path / "out2")]) == 2
    assert f"{bad}:1: segments[1].t: needs 0 <= start <= end" in capsys.readouterr().out


def test_demo_stage(capsys):
    assert main(["demo", "--only", "build"]) == 0
    out = capsys.readouterr().out
    assert all(task in out for task in ("next_state", "final_state", "event_order"))
    assert out.count("the reference trace scores") == 3 and "process 1.000" in out
