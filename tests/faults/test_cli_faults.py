"""Ordinary mistakes on the command line: each ends with a one-line message naming the place and a non-zero exit,
never a traceback, and messages print literally (brackets are not rich markup). Driven through
``moss_plugins.cli.main`` in-process (an exception escaping it is the traceback a user would see), and twice
through a real ``moss`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_plugins.cli import main
from moss_plugins.data import mini_split_dir

MINI = mini_split_dir()
GOOD_SCORE_ROW = {
    "solution": "<think>Step 1: x.</think><answer>B</answer>",
    "ground_truth": {"answer": "B", "trace": ["x"]},
}


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap long lines at 80 columns


def moss(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def failed(capsys, *argv) -> str:
    """The one error line of a command that must fail (on stderr from the top-level handler, or the command's own
    report on stdout)."""
    code, out, err = moss(capsys, *argv)
    assert code != 0, f"exit status 0 for {argv}: {out}{err}"
    assert "Traceback" not in out + err
    lines = [line for line in (err or out).splitlines() if line.strip()]
    assert lines, f"no message for {argv}"
    return "\n".join(lines)


def mini_rows() -> list[dict]:
    return [json.loads(line) for line in (MINI / "test.jsonl").read_text().splitlines()[:3]]


def write_jsonl(path: Path, rows: list, raw: dict[int, bytes] | None = None) -> Path:
    """Rows as JSONL; ``raw`` replaces lines (1-based) with the given bytes."""
    lines = [json.dumps(r).encode() for r in rows]
    for lineno, data in (raw or {}).items():
        lines[lineno - 1] = data
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def with_videos(folder: Path) -> Path:
    """A dataset folder whose rows' videos exist (links to the mini split's)."""
    (folder / "videos").mkdir(parents=True)
    for video in (MINI / "videos").glob("*.mp4"):
        os.symlink(video, folder / "videos" / video.name)
    return folder


# Bad bytes: a byte that is not UTF-8, a line nested beyond the parser, a non-standard JSON number.

BAD_LINES = {
    "not UTF-8": (b'{"id": "caf\xe9"}', "not UTF-8 text, got byte 0xe9 at column 12"),
    "nested too deeply": (b"[" * 100_000, "nested too deeply"),
    "Infinity": (b'{"observed_until": Infinity}', "Infinity is not a JSON number"),
}


@pytest.mark.parametrize("bad", sorted(BAD_LINES))
@pytest.mark.parametrize("command", ["validate", "stats", "export", "score"])
def test_a_bad_line_is_named_by_file_and_line(tmp_path, capsys, command, bad):
    data, expected = BAD_LINES[bad]
    rows = [GOOD_SCORE_ROW] * 3 if command == "score" else mini_rows()
    path = write_jsonl(with_videos(tmp_path / "d") / "test.jsonl", rows, {2: data})
    argv = {
        "validate": ["data", "validate", path],
        "stats": ["data", "stats", path, "--png", tmp_path / "s.png"],
        "export": ["data", "export", "--format", "verl", "--in", path, "--out", tmp_path / "o.parquet"],
        "score": ["score", path],
    }[command]
    message = failed(capsys, *argv)
    assert f"{path}:2: " in message and expected in message


@pytest.mark.parametrize("bad", sorted(BAD_LINES))
def test_the_lmms_eval_loader_names_a_bad_line(tmp_path, bad):
    from moss_plugins.lmms_eval.rows import lmms_row
    from moss_plugins.sample import Sample
    from moss_plugins.lmms_eval.dataset import DatasetError, read_rows

    data, expected = BAD_LINES[bad]
    sample = Sample.from_json(mini_rows()[0])
    row = lmms_row(sample, sample.video)
    path = write_jsonl(tmp_path / "test.jsonl", [row, row], {2: data})
    with pytest.raises(DatasetError, match=f"^{path}:2: .*{expected}"):
        read_rows(tmp_path, "test")


def test_a_sharegpt4video_row_with_an_infinite_index_is_named(tmp_path, capsys):
    row = {
        "video_id": "v",
        "timestamp": [0.0, 2.0],
        "captions": [{"idx": "0", "content": "a"}, {"idx": float("inf"), "content": "b"}],
    }
    path = tmp_path / "sg.jsonl"
    path.write_text(json.dumps(row) + "\n")  # Python writes Infinity, which JSON does not have
    message = failed(capsys, "data", "build", path, "--format", "sharegpt4video", "--out", tmp_path / "out")
    assert f"{path}:1: " in message and "Infinity" in message


# Bad files: missing, not a dataset at all, empty.


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "nope.jsonl"],
        ["viz", "report", "nope.jsonl"],
        ["data", "stats", "nope.jsonl"],
        ["data", "export", "--format", "lmms", "--in", "nope.jsonl", "--out", "OUT"],
        ["data", "build", "nope.jsonl", "--out", "OUT"],
        ["viz", "alignment", "--data", "nope.jsonl", "--id", "x", "--trace", "y"],
    ],
)
def test_a_missing_file_is_one_line(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    message = failed(capsys, *argv)
    assert "nope.jsonl" in message and len(message.splitlines()) == 1
    assert not (tmp_path / "OUT").exists()


@pytest.mark.parametrize("command", [["data", "validate"], ["data", "stats"], ["score"], ["viz", "report"]])
def test_a_video_given_as_a_dataset_is_refused_in_one_line(capsys, command):
    video = next((MINI / "videos").glob("*.mp4"))
    message = failed(capsys, *command, video)
    assert str(video) in message and "binary" in message and len(message.splitlines()) == 1


@pytest.mark.parametrize(
    "bad", [["--size", "33x32"], ["--tasks-per-video", "9"], ["--duration", "2:3"], ["--n", "0"]]
)
def test_a_bad_synth_option_is_one_line(tmp_path, capsys, bad):
    message = failed(capsys, "data", "synth", "--n", "1", "--out", tmp_path / "s", *bad)
    assert message.startswith("moss: error: ") and len(message.splitlines()) == 1


def test_scoring_an_empty_file_with_a_summary(tmp_path, capsys):
    code, out, err = moss(capsys, "score", write_jsonl(tmp_path / "empty.jsonl", []), "--summary")
    assert code == 0 and out.strip() == "" and "0 rollouts" in err


# Bad rows and options.


def test_invalid_rows_in_stats_export_and_build_name_line_and_field_literally(tmp_path, capsys):
    rows = mini_rows()
    rows[1]["trace"][0]["t"] = 5
    path = write_jsonl(with_videos(tmp_path / "d") / "test.jsonl", rows)
    expected = f"{path}:2: trace[0].t: must be a list [start, end] in seconds, got 5"
    assert expected in failed(capsys, "data", "stats", path, "--png", tmp_path / "s.png")
    assert expected in failed(
        capsys, "data", "export", "--format", "lmms", "--in", path, "--out", tmp_path / "out"
    )
    segments = tmp_path / "ann.jsonl"
    segments.write_text(json.dumps({"video": "v.mp4", "segments": [{"t": 5, "caption": "a"}]}) + "\n")
    message = failed(capsys, "data", "build", segments, "--out", tmp_path / "built")
    assert f"{segments}:1: segments[0].t: must be a list [start, end]" in message


def test_the_validate_summary_keeps_brackets_and_whole_lists(tmp_path, capsys):
    rows = mini_rows()
    rows[0]["trace"][0]["t"] = 5
    rows[1]["split"] = "dev"
    path = write_jsonl(with_videos(tmp_path / "d") / "test.jsonl", rows)
    code, out, _ = moss(capsys, "data", "validate", path)
    assert code == 1
    summary = out.splitlines()[0]
    assert "trace[0].t: must be a list [start, end] in seconds" in summary
    assert "split: 'dev' is not a split; known: ['train', 'val', 'test']" in summary
    assert f"{path}:1: trace[0].t: must be a list [start, end] in seconds, got 5" in out


@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("alpha=x", "alpha"),
        ("max_jump=2.5", "max_jump"),
        ("gate_process=1", "gate_process"),
        ("alpah=1", "alpah"),
        ("rouge_weights=5", "rouge_weights"),
        ("alpha", "alpha"),
    ],
)
def test_a_bad_score_option_is_one_line_naming_it(tmp_path, capsys, option, name):
    message = failed(capsys, "score", write_jsonl(tmp_path / "r.jsonl", [GOOD_SCORE_ROW]), "--set", option)
    assert name in message and len(message.splitlines()) == 1


def test_a_score_option_may_be_plain_text(tmp_path, capsys):
    code, out, _ = moss(
        capsys, "score", write_jsonl(tmp_path / "r.jsonl", [GOOD_SCORE_ROW]), "--set", "similarity=char3"
    )
    assert code == 0 and json.loads(out)["reason"] == "ok"


# Through a real process: what reaches the terminal.


@pytest.mark.parametrize("argv", [["score", "nope.jsonl"], ["data", "stats", "BAD"]])
def test_no_traceback_reaches_stderr_of_a_real_process(tmp_path, argv):
    write_jsonl(tmp_path / "BAD", [{"a": 1}], {1: b'{"a": "\xff"}'})
    done = subprocess.run(
        [sys.executable, "-m", "moss_plugins.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert len((done.stderr or done.stdout).strip().splitlines()) == 1


def test_an_unreadable_states_file_is_one_line_in_the_verl_export(tmp_path, capsys):
    rows = mini_rows()
    folder = with_videos(tmp_path / "d")
    (folder / "videos" / "broken.json").write_text("not json")
    rows[0]["meta"]["states"] = "videos/broken.json"
    path = write_jsonl(folder / "test.jsonl", rows)
    message = failed(
        capsys, "data", "export", "--format", "verl", "--in", path, "--out", tmp_path / "o.parquet"
    )
    assert f"sample {rows[0]['id']!r}: per-frame states" in message and "unreadable" in message
