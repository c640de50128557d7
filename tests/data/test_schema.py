"""The MOSS-Video sample format: every validation rule, errors that name file, line and field, loading with
--skip-invalid, and JSONL/parquet round trips."""

from __future__ import annotations

import copy
import json
import math

import pytest

from moss_plugins.cli import main
from moss_plugins.data import (
    Sample,
    ValidationError,
    iter_samples,
    load_samples,
    mini_split_dir,
    save_samples,
)


def base() -> dict:
    return {
        "id": "s1",
        "video": "videos/a.mp4",
        "question": "Which lamp lights next?",
        "options": ["red", "yellow", "green", "none"],
        "answer": "B",
        "task_type": "next_state",
        "observed_until": 6.0,
        "trace": [
            {"t": [0.0, 2.0], "text": "The red lamp is lit.", "state": {"light": "red"}},
            {"t": [2.0, 6.0], "text": "Then green.", "state": {"light": "green"}},
            {"t": [6.0, 6.0], "text": "So yellow comes next.", "state": {}},
        ],
        "split": "test",
        "source": "synthetic",
        "meta": {"scene": "traffic_light"},
    }


def _set(path: str, value):
    def change(row):
        *parents, last = path.split(".")
        target = row
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
        return row

    return change


_DELETE = object()

# (change to a valid row, the field the error must name, a regex its message must match)
BAD = [
    (lambda r: [r], "", "must be a JSON object"),
    (_set("id", _DELETE), "id", r"missing field\(s\) \['id'\]"),
    (_set("trace", _DELETE), "trace", "missing field"),
    (_set("colour", "red"), "colour", r"unknown field\(s\) \['colour'\]"),
    (_set("id", ""), "id", "non-empty string"),
    (_set("id", 7), "id", "non-empty string"),
    (_set("question", "  "), "question", "non-empty string"),
    (_set("source", None), "source", "non-empty string"),
    (_set("video", "/abs/a.mp4"), "video", "relative to the media root"),
    (_set("video", "videos/../../etc/a.mp4"), "video", "without '..'"),
    (_set("options", "red"), "options", "must be a list"),
    (_set("options", ["red"]), "options", "needs 2 to 26 options"),
    (_set("options", [f"o{k}" for k in range(27)]), "options", "needs 2 to 26"),
    (_set("options", ["red", "Red ", "x", "y"]), "options", "distinct"),
    (_set("options.2", ""), "options[2]", "non-empty string"),
    (_set("options.1", 3), "options[1]", "non-empty string"),
    (_set("answer", "E"), "answer", r"not one of the option letters ABCD"),
    (_set("answer", 1), "answer", "non-empty string"),
    (_set("task_type", "prediction"), "task_type", "not a task type"),
    (_set("split", "dev"), "split", "not a split"),
    (_set("observed_until", 0), "observed_until", "must be > 0"),
    (_set("observed_until", -1.5), "observed_until", "must be > 0"),
    (_set("observed_until", "6"), "observed_until", "finite number"),
    (_set("observed_until", True), "observed_until", "finite number"),
    (_set("observed_until", math.inf), "observed_until", "finite number"),
    (_set("meta", []), "meta", "must be an object"),
    (_set("meta", "x"), "meta", "must be an object"),
    (_set("trace", {}), "trace", "must be a list"),
    (_set("trace", []), "trace", "at least one step"),
    (_set("trace.1", "Then green."), "trace[1]", "must be an object"),
    (_set("trace.1.t", [2.0]), "trace[1].t", r"\[start, end\]"),
    (_set("trace.1.t", None), "trace[1].t", "must be a list"),
    (_set("trace.1.t", [2.0, "x"]), "trace[1].t[1]", "finite number"),
    (_set("trace.1.t", [math.nan, 3.0]), "trace[1].t[0]", "finite number"),
    (_set("trace.1.t", [3.0, 2.5]), "trace[1].t", "0 <= start <= end"),
    (_set("trace.0.t", [-1.0, 2.0]), "trace[0].t", "0 <= start <= end"),
    (
        _set("trace.2.t", [6.5, 7.0]),
        "trace[2].t",
        "after observed_until=6.0 s: a reference step cannot rely on masked frames",
    ),
    (
        lambda r: _set("trace.1.t", [1.0, 3.0])(_set("trace.0.t", [1.5, 2.0])(r)),
        "trace[1].t",
        r"starts at 1.0 s, before the previous step \(1.5 s\)",
    ),
    (_set("trace.1.text", ""), "trace[1].text", "non-empty string"),
    (_set("trace.1.text", _DELETE), "trace[1].text", "non-empty string"),
    (_set("trace.1.state", ["red"]), "trace[1].state", "must be an object"),
    (_set("trace.1.state", ""), "trace[1].state", "must be an object"),
]


@pytest.mark.parametrize("change,field,message", BAD, ids=[f"{k}-{b[1] or 'row'}" for k, b in enumerate(BAD)])
def test_every_rule_names_its_field(change, field, message):
    with pytest.raises(ValidationError, match=message) as err:
        Sample.from_json(change(copy.deepcopy(base())))
    assert err.value.field == field


def test_a_valid_row_and_what_is_normalised():
    row = base()
    row["answer"] = " b "
    row.pop("meta")
    row["trace"][2].pop("state")
    s = Sample.from_json(row)
    assert s.answer == "B" and s.meta == {} and s.trace[2].state == {}
    assert s.answer_text == "yellow" and s.observed_until == 6.0 and isinstance(s.options, tuple)
    assert s.ground_truth() == {
        "answer": "B",
        "options": row["options"],
        "trace": [{"t": list(t["t"]), "text": t["text"]} for t in row["trace"]],
    }
    # a step may start exactly at the cut (inference made there) and end after it
    row["trace"][2]["t"] = [6.0, 6.5]
    assert Sample.from_json(row).trace[2].t == (6.0, 6.5)
    assert Sample.from_json(s.to_json()) == s


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf-8")
    return path


def test_errors_name_file_line_and_field(tmp_path):
    good, bad = base(), base()
    bad["id"] = "s2"
    bad["trace"][1]["t"] = [9.0, 9.5]
    path = _write(tmp_path / "x.jsonl", [good, "", bad])  # a blank line is skipped but still counted
    with pytest.raises(ValidationError) as err:
        load_samples(path)
    assert str(err.value).startswith(f"{path}:3: trace[1].t: starts at 9.0 s, after observed_until=6.0 s")
    assert (err.value.where, err.value.field) == (f"{path}:3", "trace[1].t")
    with pytest.raises(ValidationError, match=f"{path}:3: trace"):
        list(iter_samples(path))
    _write(path, [good, "{not json"])
    with pytest.raises(ValidationError, match=f"{path}:2: not valid JSON"):
        load_samples(path)


def test_duplicate_ids_across_files(tmp_path):
    _write(tmp_path / "a.jsonl", [base()])
    _write(tmp_path / "b.jsonl", [base()])
    with pytest.raises(ValidationError, match=r"b.jsonl:1: id: duplicate id 's1' \(first at .*a.jsonl:1\)"):
        load_samples(tmp_path)


def test_skip_invalid_counts_every_skipped_row_by_reason(tmp_path):
    rows = []
    for k in range(10):
        row = base()
        row["id"] = f"s{k}"
        if k in (1, 4, 7):
            row["answer"] = "Z"
        if k == 5:
            row["split"] = "dev"
        rows.append(row)
    rows.append("[1, 2")
    path = _write(tmp_path / "x.jsonl", rows)
    report = load_samples(path, skip_invalid=True)
    assert [s.id for s in report.samples] == ["s0", "s2", "s3", "s6", "s8", "s9"]
    assert sum(report.skipped.values()) == 5
    assert report.skipped["answer: 'Z' is not one of the option letters ABCD"] == 3
    assert report.skipped["split: 'dev' is not a split; known: ['train', 'val', 'test']"] == 1
    assert report.first_errors[0] == f"{path}:2: answer: 'Z' is not one of the option letters ABCD"
    assert len(report.first_errors) == 5 and report.first_errors[-1].startswith(f"{path}:11: not valid JSON")
    assert report.summary().startswith("6 samples; skipped 5 invalid (3 x answer")


def test_parquet_round_trip(tmp_path):
    samples = load_samples(mini_split_dir()).samples
    save_samples(samples, tmp_path / "all.parquet")
    save_samples(samples, tmp_path / "all.jsonl")
    assert load_samples(tmp_path / "all.parquet").samples == samples
    assert load_samples(tmp_path / "all.jsonl").samples == samples
    # JSONL keeps the schema's field order, one compact object per line
    first = (tmp_path / "all.jsonl").read_text("utf-8").splitlines()[0]
    assert list(json.loads(first)) == list(base())


def test_parquet_errors_name_the_row(tmp_path):
    rows = [Sample.from_json(base())]
    bad = base()
    bad["id"], bad["trace"][0]["state"] = "s2", {"light": "red"}
    rows.append(Sample.from_json(bad))
    path = save_samples(rows, tmp_path / "x.parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pylist()
    table[1]["task_type"] = "guess"
    table[0]["meta"] = "{not json"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table), path)
    report = load_samples(path, skip_invalid=True)
    assert report.samples == [] and len(report.first_errors) == 2
    assert report.first_errors[0].startswith(f"{path}:row 0: a JSON-encoded column is not JSON")
    assert report.first_errors[1] == f"{path}:row 1: task_type: 'guess' is not a task type; known: " + str(
        ["next_state", "final_state", "event_order", "change_count", "state_at_cut"]
    )


def test_validate_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal width
    assert main(["data", "validate", str(mini_split_dir())]) == 0
    assert "ok" in capsys.readouterr().out
    bad = base()
    bad["answer"] = "Q"
    path = _write(tmp_path / "bad.jsonl", [base(), bad])
    assert main(["data", "validate", str(path), str(tmp_path / "missing")]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "bad.jsonl:2: answer: 'Q' is not one of the option letters ABCD" in out
    assert "no such MOSS-Video file or folder" in out
