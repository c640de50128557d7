"""The segment policy of the dataset importers (moss_plugins/data/segments.py), one case at a time."""

from __future__ import annotations

from collections import Counter

import pytest

from moss_plugins.data.segments import Segment, VideoFinder, fit, split_from_name, tidy


def spans(segments) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in segments]


def S(start, end, caption="x"):  # noqa: N802 (reads like the record it builds)
    return Segment(start, end, caption)


def test_clean_segments_pass_unchanged():
    clean = [S(0, 2, "a"), S(2, 5, "b"), S(6, 8, "c")]  # a gap is fine
    assert tidy(clean, 10.0) == (tuple(clean), Counter())


def test_unordered_segments_are_sorted_and_the_video_counted_once():
    kept, changes = tidy([S(4, 6, "c"), S(0, 2, "a"), S(2, 4, "b")], None)
    assert [s.caption for s in kept] == ["a", "b", "c"] and changes == Counter({"reordered": 1})


def test_blank_captions_and_empty_or_reversed_spans_are_dropped():
    kept, changes = tidy([S(0, 2, "a"), S(2, 3, "  \n"), S(3, 3, "b"), S(5, 4, "c"), S(4, 6, "d  e")], None)
    assert [(s.caption, s.start) for s in kept] == [("a", 0), ("d e", 4)]  # white space collapsed
    assert changes == Counter({"dropped: empty caption": 1, "dropped: empty span": 2})


def test_negative_start_is_clamped_and_a_span_wholly_before_0_is_empty():
    kept, changes = tidy([S(-0.5, 2, "a"), S(2, 4, "b"), S(-2, -1, "c")], None)
    assert spans(kept) == [(0, 2), (2, 4)]
    assert changes == Counter({"clamped: start before 0": 1, "dropped: empty span": 1})


def test_out_of_range_segments_are_clipped_or_dropped_with_a_known_duration():
    kept, changes = tidy([S(0, 2, "a"), S(2, 7, "b"), S(6.5, 9, "c"), S(7, 8, "d")], 6.0)
    assert spans(kept) == [(0, 2), (2, 6)]
    assert changes == Counter({"clipped: at the video's end": 1, "dropped: past the video's end": 2})


def test_without_a_duration_fit_applies_the_probed_end_later():
    kept, changes = tidy([S(0, 2, "a"), S(2, 7, "b"), S(7, 8, "c")], None)
    assert spans(kept) == [(0, 2), (2, 7), (7, 8)] and not changes
    assert fit(kept, 6.0) == (
        (S(0, 2, "a"), S(2, 6.0, "b")),
        Counter({"clipped: at the video's end": 1, "dropped: past the video's end": 1}),
    )


def test_exact_duplicates_are_dropped_even_when_not_adjacent():
    kept, changes = tidy([S(0, 2, "A cat."), S(2, 4, "b"), S(0, 2, "a  CAT."), S(0, 2, "A cat.")], None)
    assert [s.caption for s in kept] == ["A cat.", "b"]  # the first of the copies, and no reordering once
    assert changes == Counter({"dropped: duplicate": 2})  # the copies are gone


def test_a_small_overlap_is_trimmed_so_the_cut_shows_none_of_the_later_segment():
    kept, changes = tidy([S(0, 4, "a"), S(3, 8, "b")], None)  # overlap 1 s <= half of the shorter (2 s)
    assert spans(kept) == [(0, 4), (4, 8)] and changes == Counter({"trimmed: overlap": 1})


@pytest.mark.parametrize(
    ("second", "merged"),
    [
        (S(1, 3, "b"), (0, 4)),  # inside the first
        (S(1, 6, "b"), (0, 6)),  # overlap 3 s of a 4 s segment
        (S(0, 4, "b"), (0, 4)),
    ],  # the same span described twice
)
def test_a_large_overlap_merges_both_in_time_order(second, merged):
    kept, changes = tidy([S(0, 4, "a"), second, S(8, 9, "c")], None)
    assert spans(kept) == [merged, (8, 9)] and kept[0].caption == "a. b"
    assert changes == Counter({"merged: overlap": 1})


def test_merging_the_same_caption_keeps_it_once_and_chains_continue_from_the_merged_segment():
    kept, changes = tidy([S(0, 4, "A dog runs."), S(1, 4, "a dog runs"), S(3.9, 7, "It stops.")], None)
    assert [(s.start, s.end, s.caption) for s in kept] == [(0, 4, "A dog runs."), (4, 7, "It stops.")]
    assert changes == Counter({"merged: overlap": 1, "trimmed: overlap": 1})


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("train.json", "train"),
        ("val_1.json", "test"),
        ("val_2.json", "test"),
        ("charades_sta_train.txt", "train"),
        ("charades_sta_test.txt", "test"),
        ("my_captions.json", None),
        ("youcookii_annotations_trainval.json", None),
    ],
)
def test_split_from_the_file_name(name, split, tmp_path):
    assert split_from_name(tmp_path / name) == split


def test_video_finder_prefers_mp4_tries_stems_in_order_and_falls_back_to_the_first(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("v_a.mkv", "v_a.mp4", "b.webm", "sub/c.mov"):
        (tmp_path / name).write_bytes(b"")
    finder = VideoFinder(tmp_path)
    assert finder.find("", ["a", "v_a"]) == tmp_path / "v_a.mp4"
    assert finder.find("", ["v_b", "b"]) == tmp_path / "b.webm"
    assert finder.find("sub", ["c"]) == tmp_path / "sub" / "c.mov"
    assert finder.find("", ["v_z", "z"]) == tmp_path / "v_z.mp4"
    assert finder.find("missing/folder", ["q"]) == tmp_path / "missing" / "folder" / "q.mp4"
