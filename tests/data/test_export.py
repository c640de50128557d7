"""``moss data export``: verl parquet and lmms folders read back equal to the source samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples, mini_split_dir, save_samples
from moss_plugins.data.export import ExportError
from moss_plugins.verl.rows import export_verl
from moss_plugins.lmms_eval.rows import export_lmms, sample_from_lmms_row
from moss_plugins.output_format import build_prompt, format_response
from moss_plugins.reward import compute_score

VERL_COLUMNS = ["data_source", "prompt", "videos", "ability", "reward_model", "extra_info"]
EXTRA_INFO = {
    "index",
    "id",
    "split",
    "task_type",
    "observed_until",
    "question",
    "options",
    "answer",
    "captions",
}


@pytest.fixture(scope="module")
def mini():
    return {s.id: s for s in load_samples(mini_split_dir()).samples}


def test_verl_rows_follow_the_contract_and_the_reference_trace_scores_full(tmp_path, mini):
    assert (
        main(["data", "export", "--format", "verl", "--in", str(mini_split_dir()), "--out", str(tmp_path)])
        == 0
    )
    seen = set()
    for split in ("train", "test"):
        frame = pd.read_parquet(tmp_path / f"{split}.parquet")
        assert list(frame.columns) == VERL_COLUMNS
        for k, row in frame.iterrows():
            info = row["extra_info"]
            sample = mini[info["id"]]
            seen.add(sample.id)
            assert set(info) == EXTRA_INFO and info["index"] == k and info["split"] == split == sample.split
            assert (info["task_type"], info["answer"], info["question"]) == (
                sample.task_type,
                sample.answer,
                sample.question,
            )
            assert (
                list(info["options"]) == list(sample.options)
                and info["observed_until"] == sample.observed_until
            )
            assert row["data_source"] == "moss_video" and row["ability"] == "video_temporal_reasoning"
            (message,) = row["prompt"]
            assert message["role"] == "user"
            assert message["content"] == "<video>\n" + build_prompt(sample.question, sample.options)
            (video,) = row["videos"]
            path = Path(video["video"])
            assert path.is_absolute() and path.read_bytes() == (mini_split_dir() / sample.video).read_bytes()
            assert video["video_start"] == 0.0 and video["video_end"] == sample.observed_until
            assert row["reward_model"]["style"] == "rule"
            truth = row["reward_model"]["ground_truth"]  # numpy arrays inside, as verl hands them over
            assert truth["answer"] == sample.answer
            assert [(list(s["t"]), s["text"]) for s in truth["trace"]] == [
                (list(s.t), s.text) for s in sample.trace
            ]
            result = compute_score(
                "moss_video", format_response([s.text for s in sample.trace], sample.answer), truth
            )
            assert (result["acc"], result["format"], result["process"], result["padding"]) == (1, 1, 1, 0), (
                result
            )
            assert all(c["t"][1] <= sample.observed_until for c in info["captions"])  # only the visible part
    assert seen == set(mini)


def test_verl_single_file_and_one_split(tmp_path, mini):
    out = export_verl(mini_split_dir() / "test.jsonl", tmp_path / "t.parquet", split="test").files["all"]
    frame = pd.read_parquet(out)
    assert len(frame) == sum(s.split == "test" for s in mini.values())
    assert frame["extra_info"].map(lambda i: i["index"]).tolist() == list(range(len(frame)))


def test_lmms_folder_reads_back_to_the_same_samples(tmp_path, mini):
    assert (
        main(["data", "export", "--format", "lmms", "--in", str(mini_split_dir()), "--out", str(tmp_path)])
        == 0
    )
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["test.jsonl", "train.jsonl"]
    n = 0
    for split in ("train", "test"):
        for line in (tmp_path / f"{split}.jsonl").read_text("utf-8").splitlines():
            row = json.loads(line)
            assert isinstance(row["trace"], str) and isinstance(row["meta"], str)  # free-form objects as JSON
            back = sample_from_lmms_row(row)
            source = mini[back.id]
            assert (tmp_path / back.video).read_bytes() == (mini_split_dir() / source.video).read_bytes()
            assert (tmp_path / back.meta["states"]).read_bytes() == (
                mini_split_dir() / source.meta["states"]
            ).read_bytes()
            assert back.to_json() == source.to_json()  # the synthetic videos keep their paths (videos/...)
            n += 1
    assert n == len(mini)


def test_lmms_folder_loads_with_hf_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    export_lmms(mini_split_dir(), tmp_path, split="test")
    assert not (tmp_path / "train.jsonl").exists()
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "test.jsonl"), split="train")
    assert len(ds) == 60 and set(ds.column_names) >= {"id", "video", "trace", "meta", "observed_until"}


def test_lmms_paths_outside_videos_are_kept_under_videos_and_symlinks(tmp_path, mini):
    src = tmp_path / "src"
    (src / "clips" / "a").mkdir(parents=True)
    samples = list(mini.values())[:3]
    moved = []
    for s in samples:
        target = src / "clips" / "a" / Path(s.video).name
        shutil.copyfile(mini_split_dir() / s.video, target)
        moved.append(s.from_json({**s.to_json(), "video": f"clips/a/{target.name}", "meta": {}}))
    save_samples(moved, src / "x.jsonl")
    out = tmp_path / "out"
    export_lmms(src, out, link=True)
    export_lmms(src, out, link=True)  # exporting again replaces what is there
    rows = [json.loads(line) for path in out.glob("*.jsonl") for line in path.read_text("utf-8").splitlines()]
    assert sorted(r["video"] for r in rows) == sorted(f"videos/clips/a/{Path(s.video).name}" for s in samples)
    for r in rows:
        assert (out / r["video"]).is_symlink() and (out / r["video"]).resolve().parent == (
            src / "clips" / "a"
        )


def test_missing_video_and_empty_split_are_errors(tmp_path, mini):
    sample = next(iter(mini.values()))
    save_samples([sample], tmp_path / "one.jsonl")  # its video is not beside it
    with pytest.raises(ExportError, match=f"{sample.id}.*{sample.video}.*not a file"):
        export_verl(tmp_path / "one.jsonl", tmp_path / "x.parquet")
    with pytest.raises(ExportError, match="no samples in split 'val'"):
        export_lmms(mini_split_dir(), tmp_path / "lmms", split="val")


def test_skip_invalid_is_reported(tmp_path, mini, capsys):
    lines = (mini_split_dir() / "test.jsonl").read_text("utf-8").splitlines()
    bad = json.loads(lines[0])
    bad["answer"] = "Z"
    folder = tmp_path / "in"
    shutil.copytree(mini_split_dir() / "videos", folder / "videos")
    (folder / "test.jsonl").write_text("\n".join([json.dumps(bad), *lines[1:]]) + "\n", "utf-8")
    with pytest.raises(Exception, match="test.jsonl:1: answer"):
        export_verl(folder, tmp_path / "a.parquet")
    assert (
        main(
            [
                "data",
                "export",
                "--format",
                "verl",
                "--in",
                str(folder),
                "--out",
                str(tmp_path / "b.parquet"),
                "--skip-invalid",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "59 samples; skipped 1 invalid" in out and "test.jsonl:1: answer" in out
    assert len(pd.read_parquet(tmp_path / "b.parquet")) == 59
