"""``moss viz report`` on a samples file someone else wrote: every text reaches the HTML escaped (no markup from
the file runs in the reader's browser), and a field of the wrong type is one line naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moss_plugins.cli import main
from moss_plugins.viz.report import render_report

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def item(**changes) -> dict:
    good = {
        "benchmark": "moss_video_test",
        "id": "s1",
        "task_type": "next_state",
        "question": "What next?",
        "options": ["red", "blue"],
        "answer": "A",
        "observed_until": 2.0,
        "video": None,
        "output": "<think>x</think>",
        "metrics": {"accuracy": 1.0},
        "pred_answer": "A",
        "reason": "ok",
        "dtw_normalized": 0.0,
        "pred_steps": ["x"],
        "ref_steps": ["y"],
        "path": [[0, 0]],
        "similarity": [[0.5]],
        "judge": {
            "score": 0.75,
            "consistency": 4,
            "supports_answer": True,
            "explanation": "fine",
            "model": "m",
            "error": "",
            "cached": False,
        },
    }
    return {**good, **changes}


def samples_file(tmp_path: Path, *items) -> Path:
    path = tmp_path / "run_samples_moss_video.jsonl"
    path.write_text("".join(json.dumps({"doc_id": k, "report": it}) + "\n" for k, it in enumerate(items)))
    return path


@pytest.mark.parametrize(
    "where",
    [
        "judge.consistency",
        "judge.explanation",
        "judge.model",
        "judge.error",
        "id",
        "task_type",
        "question",
        "options",
        "answer",
        "pred_answer",
        "pred_steps",
        "ref_steps",
        "output",
        "metrics",
        "benchmark",
    ],
)
def test_every_text_of_a_samples_file_is_escaped_in_the_report(tmp_path, where):
    head, _, key = where.partition(".")
    if key:
        changed = item(**{head: {**item()[head], key: HOSTILE}})
    elif head in ("options", "pred_steps", "ref_steps"):
        changed = item(**{head: [HOSTILE, "blue"][: len(item()[head])]})
    elif head == "metrics":
        changed = item(metrics={HOSTILE: 1.0})
    else:
        changed = item(**{head: HOSTILE})
    page = render_report([changed], "t", lambda values: [0.0, 1.0])  # also what lmms-eval's tasks hand over
    assert "<script>" not in page and "<img src=x" not in page, where
    if where != "judge.consistency":  # which the samples file's check refuses: not a whole number
        out = tmp_path / "report.html"
        assert main(["viz", "report", str(samples_file(tmp_path, changed)), "-o", str(out)]) == 0
        assert "<script>" not in out.read_text()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metrics", {"accuracy": "high"}),
        ("metrics", [1, 2]),
        ("pred_steps", 5),
        ("ref_steps", [1, 2]),
        ("similarity", "abc"),
        ("similarity", [[0.5, 0.5]]),
        ("path", [[1]]),
        ("path", [[0, 7]]),
        ("judge", "yes"),
        ("options", 3),
        ("observed_until", "soon"),
        ("id", ["a"]),
        ("judge", {"consistency": "four"}),
    ],
)
def test_a_wrong_type_in_a_samples_file_is_one_line(tmp_path, capsys, field, value):
    path = samples_file(tmp_path, item(), item(**{field: value}))
    assert main(["viz", "report", str(path), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{path.name}:2" in err and field in err


def test_a_report_that_is_not_an_object_is_one_line(tmp_path, capsys):
    path = samples_file(tmp_path, "just text")
    assert main(["viz", "report", str(path), "-o", str(tmp_path / "r.html")]) == 2
    assert "report" in capsys.readouterr().err
