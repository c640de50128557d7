"""The dataset importers of ``moss data build`` (ActivityNet Captions, YouCook2, Charades-STA): their files and
fields mapped to segments, their splits kept, their errors located, their policy counted (tiny PyAV videos)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, build_dataset
from moss_plugins.sample import ValidationError
from moss_plugins.testing.annotated_videos import write_annotated_videos

CAPTIONS = [
    "A kettle sits on a cold stove.",
    "A hand turns the burner on.",
    "Steam rises from the spout.",
    "The kettle whistles loudly.",
    "Someone pours water into a mug.",
]


def videos(folder: Path, names: list[str], n_segments: int = 5) -> None:
    """One 8 fps video of ``n_segments`` seconds per name (the caption text only matters to the annotations)."""
    write_annotated_videos(folder, [CAPTIONS[:n_segments]] * len(names), names=names)
    (folder / "annotations.jsonl").unlink()  # the segments layout it writes is not what these tests read


def activitynet_entry(duration=5.0, spans=((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)), sentences=None) -> dict:
    return {
        "duration": duration,
        "timestamps": [list(s) for s in spans],
        "sentences": sentences or CAPTIONS[: len(spans)],
    }


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_activitynet_maps_sentences_to_timestamps_and_finds_videos_with_or_without_the_prefix(tmp_path):
    videos(tmp_path, ["v_abc", "xyz"])
    path = write_json(tmp_path / "train.json", {"v_abc": activitynet_entry(), "v_xyz": activitynet_entry()})
    a, b = read_annotations(path)
    assert (a.video_id, a.video, a.split, a.where) == (
        "v_abc",
        tmp_path / "v_abc.mp4",
        "train",
        f"{path}:key v_abc",
    )
    assert b.video == tmp_path / "xyz.mp4"  # v_<id> in the file, <id>.mp4 on disk
    assert [(s.start, s.end, s.caption) for s in a.segments] == [
        (k, k + 1, c) for k, c in enumerate(CAPTIONS)
    ]
    assert a.duration == 5.0 and a.fit_to_video and a.changes == Counter()


def test_youcook2_maps_steps_subsets_and_the_raw_videos_layout(tmp_path):
    videos(tmp_path / "training" / "113", ["GLd3aX16zBg"])
    videos(tmp_path / "validation" / "201", ["Zk3b_c1e"])
    steps = [{"id": k, "segment": [k, k + 1], "sentence": c.lower()} for k, c in enumerate(CAPTIONS)]
    database = {
        "GLd3aX16zBg": {
            "duration": 5.0,
            "subset": "training",
            "recipe_type": "113",
            "annotations": steps,
            "video_url": "https://www.youtube.com/watch?v=GLd3aX16zBg",
        },
        "Zk3b_c1e": {"duration": 5.0, "subset": "validation", "recipe_type": "201", "annotations": steps},
    }
    path = write_json(tmp_path / "youcookii_annotations_trainval.json", {"database": database})
    a, b = read_annotations(path)
    assert (a.video, a.split, b.video, b.split) == (
        tmp_path / "training/113/GLd3aX16zBg.mp4",
        "train",
        tmp_path / "validation/201/Zk3b_c1e.mp4",
        "test",
    )
    assert a.segments[1].caption == CAPTIONS[1].lower() and a.meta["recipe_type"] == "113"


def test_charades_sta_groups_lines_per_video_and_takes_durations_from_the_video(tmp_path):
    videos(tmp_path, ["AO8RW", "Y6R7T"], n_segments=3)
    path = tmp_path / "charades_sta_test.txt"
    path.write_text(
        "AO8RW 1.0 2.0##a person opens a door.\nY6R7T 0.0 1.5##a person sits down.\n\n"
        "AO8RW 0.0 1.0##a person walks in.\nY6R7T 1.5 2.5##the person eats.\n"
        "AO8RW 2.0 7.5##the person leaves.\n"
    )
    a, b = read_annotations(path)
    assert (a.video_id, a.where, a.split, a.duration) == ("AO8RW", f"{path}:1", "test", None)
    assert [s.caption for s in a.segments] == [
        "a person walks in.",
        "a person opens a door.",
        "the person leaves.",
    ]
    assert a.changes == Counter({"reordered": 1}) and a.segments[-1].end == 7.5  # unknown end: kept for now
    report = build_dataset([a, b], tmp_path / "out", BuildConfig(test_fraction=0.0))
    assert report.segment_policy == Counter({"reordered": 1, "clipped: at the video's end": 1})
    built = {s.meta["video_id"]: s for s in load_samples(tmp_path / "out").samples}
    assert {s.split for s in built.values()} == {"test"}  # the file's split, whatever --test-fraction says
    assert max(step.t[1] for s in load_samples(tmp_path / "out").samples for step in s.trace) <= 3.0


def test_auto_detects_each_file_and_reads_mixed_inputs_in_one_build(tmp_path):
    videos(tmp_path, ["v_a", "b", "c"])
    anet = write_json(tmp_path / "val_1.json", {"v_a": activitynet_entry()})
    yc = write_json(
        tmp_path / "yc.json",
        {
            "database": {
                "b": {
                    "duration": 5.0,
                    "subset": "training",
                    "recipe_type": "1",
                    "annotations": [{"segment": [k, k + 1], "sentence": c} for k, c in enumerate(CAPTIONS)],
                }
            }
        },
    )
    (tmp_path / "training" / "1").mkdir(parents=True)
    (tmp_path / "b.mp4").rename(tmp_path / "training" / "1" / "b.mp4")
    ch = tmp_path / "charades_sta_train.txt"
    ch.write_text("".join(f"c {k}.0 {k + 1}.0##{c}\n" for k, c in enumerate(CAPTIONS)))
    anns = read_annotations([anet, yc, ch])
    assert [(a.video_id, a.split) for a in anns] == [("v_a", "test"), ("b", "train"), ("c", "train")]
    report = build_dataset(anns, tmp_path / "out", BuildConfig(test_fraction=0.5))
    assert report.videos_per_split == Counter({"train": 2, "test": 1})
    assert sum(report.task_videos.values()) == 3 * 3  # every video has samples of every task type


def test_explicit_format_and_what_auto_cannot_recognise(tmp_path):
    odd = write_json(tmp_path / "odd.json", {"videos": []})
    with pytest.raises(ValidationError, match="YouCook2 .* ActivityNet Captions"):
        read_annotations(odd)
    with pytest.raises(
        ValidationError, match=r"^.*odd.json: an ActivityNet Captions file holds one JSON object"
    ):
        read_annotations(write_json(odd, [1]), fmt="activitynet")
    with pytest.raises(ValidationError, match=r"odd.json: database: a YouCook2 file"):
        read_annotations(odd, fmt="youcook2")


def test_the_same_video_in_two_files_names_both(tmp_path):
    """ActivityNet's val_1 and val_2 annotate the same videos: a build takes one of them."""
    val1 = write_json(tmp_path / "val_1.json", {"v_a": activitynet_entry()})
    val2 = write_json(tmp_path / "val_2.json", {"v_a": activitynet_entry()})
    with pytest.raises(
        ValidationError, match=rf"val_2.json:key v_a: video_id: video id 'v_a' already used at {val1}:key v_a"
    ):
        read_annotations([val1, val2])


@pytest.mark.parametrize(
    ("name", "content", "where", "field"),
    [
        ("train.json", {"v_a": activitynet_entry(duration="long")}, "key v_a", "duration"),
        ("train.json", {"v_a": activitynet_entry(duration=0)}, "key v_a", "duration"),
        ("train.json", {"v_a": activitynet_entry(spans=((0, 1), (1, "x")))}, "key v_a", "timestamps[1][1]"),
        ("train.json", {"v_a": activitynet_entry(spans=((0, 1), (1,)))}, "key v_a", "timestamps[1]"),
        ("train.json", {"v_a": activitynet_entry(sentences=["only one"])}, "key v_a", "sentences"),
        (
            "train.json",
            {"v_a": activitynet_entry(sentences=["a", 2, "c", "d", "e"])},
            "key v_a",
            "sentences[1]",
        ),
        ("train.json", {"v_a": activitynet_entry(), "v_b": []}, "key v_b", ""),
        (
            "yc.json",
            {"database": {"x": {"duration": 3, "subset": "train", "recipe_type": "1", "annotations": []}}},
            "key x",
            "subset",
        ),
        (
            "yc.json",
            {
                "database": {
                    "x": {
                        "duration": 3,
                        "subset": "training",
                        "recipe_type": "1",
                        "annotations": [{"segment": [0, None], "sentence": "a"}],
                    }
                }
            },
            "key x",
            "annotations[0].segment[1]",
        ),
        (
            "yc.json",
            {
                "database": {
                    "x": {
                        "duration": 3,
                        "subset": "training",
                        "recipe_type": "1",
                        "annotations": [{"segment": [0, 1]}],
                    }
                }
            },
            "key x",
            "annotations[0].sentence",
        ),
        ("charades_sta_train.txt", "AO8RW 0.0 1.0##a\nAO8RW 1.0 soon##b\n", "2", "end"),
        ("charades_sta_train.txt", "AO8RW 0.0 1.0##a\n\nAO8RW 1.0 2.0 b\n", "3", "line"),
        ("charades_sta_train.txt", "AO8RW nan 1.0##a\n", "1", "start"),
    ],
)
def test_bad_rows_name_file_line_or_key_and_field_in_one_line(tmp_path, name, content, where, field):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValidationError) as e:
        read_annotations(path)
    assert (e.value.where, e.value.field) == (f"{path}:{where}", field)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{path}:{where}: ")


def test_policy_counts_and_dropped_videos_reach_the_report_and_the_summary(tmp_path, capsys):
    videos(tmp_path, ["v_a", "v_b"])
    messy = activitynet_entry(
        spans=((2, 3), (0, 1), (1, 2), (1, 2), (3, 4.4), (4.2, 5), (4, 4), (4.5, 9)),
        sentences=[
            CAPTIONS[2],
            CAPTIONS[0],
            CAPTIONS[1],
            CAPTIONS[1],
            CAPTIONS[3],
            CAPTIONS[4],
            "a blink",
            "Much later.",
        ],
    )
    path = write_json(
        tmp_path / "train.json",
        {
            "v_a": messy,
            "v_b": activitynet_entry(spans=((0, 5),)),
            "v_gone": activitynet_entry(spans=((0, 1), (1, 2))),
        },
    )
    (ann, lonely, gone) = read_annotations(path)
    assert [(s.start, s.end) for s in ann.segments] == [(0, 1), (1, 2), (2, 3), (3, 4.4), (4.4, 5)]
    want = Counter(
        {
            "reordered": 1,
            "dropped: duplicate": 1,
            "dropped: empty span": 1,
            "trimmed: overlap": 1,
            "clipped: at the video's end": 1,
            "merged: overlap": 1,
        }
    )
    assert ann.changes == want and ann.segments[-1].caption == f"{CAPTIONS[4]} Much later."
    assert len(lonely.segments) == 1
    assert main(["data", "build", str(path), "--out", str(tmp_path / "out"), "--skip-invalid"]) == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["segment_policy"] == {**want, "videos dropped: fewer than 2 segments": 1}
    assert report["skipped_videos"] == {"video": 1}  # v_gone has no file
    out = capsys.readouterr().out
    assert "segment policy" in out and "videos dropped: fewer than 2" in out and "next_state: 3 from 1" in out
    assert report["task_videos"] == {"next_state": 1, "final_state": 1, "event_order": 1}
