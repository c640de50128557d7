"""Where moss_video reads its data from, and that the model is handed only the frames before the cut."""

import json
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.data.video import load_frames
from moss_plugins.lmms_eval import dataset


def test_docs_come_from_the_environment_folder_with_cut_clips(lmms_export, monkeypatch):
    monkeypatch.setenv(dataset.DATA_ENV, str(lmms_export))
    docs = dataset.load_docs("test")
    assert [d["id"] for d in docs] == ["fixture-test-0", "fixture-test-1", "fixture-test-2"]
    for doc in docs:
        source = lmms_export / doc["video"]
        assert len(load_frames(source, timeout=None).timestamps) == 8  # the export keeps the whole video
        times = load_frames(dataset.observed_video(doc), timeout=None).timestamps.tolist()
        assert times == pytest.approx([k / 4 for k in range(6)])  # 1.375 s cut: frames 0..5 only
        assert max(times) < doc["observed_until"]
        assert json.loads(doc["trace"])[0]["text"] == "The disc is red."


def test_the_clip_shows_the_observed_colours_only(lmms_export, monkeypatch):
    monkeypatch.setenv(dataset.DATA_ENV, str(lmms_export))
    clip = dataset.observed_video(dataset.load_docs("train")[0])
    frames = load_frames(clip).frames
    means = frames.reshape(len(frames), -1, 3).mean(axis=1)
    assert np.argmax(means, axis=1).tolist() == [0, 1, 2, 0, 1, 2]  # red, green, blue, red, green, blue


def test_clips_are_cut_once_and_cut_videos_used_as_they_are(lmms_export, monkeypatch, tmp_path):
    monkeypatch.setenv(dataset.DATA_ENV, str(lmms_export))
    clip = Path(dataset.observed_video(dataset.load_docs("test")[0]))
    inode = clip.stat().st_ino
    assert dataset.observed_video(dataset.load_docs("test")[0]) == str(clip)
    assert clip.stat().st_ino == inode  # not cut again
    assert dataset.observed_clip(clip, 1.375, tmp_path) == clip  # no frame at or after the cut: used as is
    assert not list(tmp_path.iterdir())


def test_process_docs_turns_the_pointer_into_the_split(lmms_export, monkeypatch):
    import datasets

    monkeypatch.setenv(dataset.DATA_ENV, str(lmms_export))
    docs = dataset.process_docs(datasets.Dataset.from_list([{"split": "train"}]))
    assert len(docs) == 2 and set(docs["split"]) == {"train"} and "video_path" in docs.column_names
    with pytest.raises(dataset.DatasetError, match="pointer"):
        dataset.process_docs(datasets.Dataset.from_list([{"split": "train"}, {"split": "test"}]))


def test_lmms_eval_takes_no_data_folder_at_run_time(tmp_path, monkeypatch):
    """Why the task's code reads the folder: lmms-eval 0.7 passes data_files on as written (no variable
    expansion), and the rows it hands process_docs do not say which file they came from."""
    import datasets
    from lmms_eval.utils import load_yaml_config

    monkeypatch.setenv("SOME_EXPORT", str(tmp_path))
    (tmp_path / "test.jsonl").write_text('{"id": "a"}\n')
    (tmp_path / "t.yaml").write_text(
        "task: t\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: $SOME_EXPORT/test.jsonl\n"
    )
    assert (
        load_yaml_config(str(tmp_path / "t.yaml"))["dataset_kwargs"]["data_files"]["test"]
        == "$SOME_EXPORT/test.jsonl"
    )
    rows = datasets.load_dataset(
        "json", data_files={"test": str(tmp_path / "test.jsonl")}, cache_dir=str(tmp_path / "hf")
    )["test"]
    assert str(tmp_path) not in repr(rows.info) + repr(rows.to_list())


def test_the_default_is_an_export_of_the_bundled_mini_split(monkeypatch):
    from moss_plugins.data import mini_split_dir
    from moss_plugins.lmms_eval import rows as export

    monkeypatch.delenv(dataset.DATA_ENV, raising=False)
    folder = dataset.data_dir()
    written = (folder / "test.jsonl").stat().st_mtime_ns

    def export_again(*args, **kwargs):
        raise AssertionError("the bundled mini split was exported a second time")

    monkeypatch.setattr(export, "export_lmms", export_again)
    assert dataset.data_dir() == folder  # exported once
    assert (folder / "test.jsonl").stat().st_mtime_ns == written
    rows = dataset.read_rows(folder, "test")
    mini = [
        json.loads(line)
        for line in (mini_split_dir() / "test.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert [r["id"] for r in rows] == [m["id"] for m in mini]
    assert (
        isinstance(rows[0]["trace"], str)
        and json.loads(rows[0]["trace"])[0]["text"] == mini[0]["trace"][0]["text"]
    )


def test_errors_name_the_file_line_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(dataset.DATA_ENV, str(tmp_path / "nope"))
    with pytest.raises(
        dataset.DatasetError, match="MOSS_VIDEO_LMMS_DIR=.*nope: no such folder.*moss data export"
    ):
        dataset.data_dir()
    (tmp_path / "test.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(dataset.DatasetError, match=r"test.jsonl:1: missing field\(s\) \['video'"):
        dataset.read_rows(tmp_path, "test")
    with pytest.raises(
        dataset.DatasetError, match=r"no 'train' split in this lmms export \(it has \['test'\]\)"
    ):
        dataset.read_rows(tmp_path, "train")
