"""Pictures: the alignment PNG, the HTML report and `moss viz`."""

import json
import re

import numpy as np
import pytest

from moss_plugins.cli import main as moss
from moss_plugins.lmms_eval.hooks import moss_video_results
from moss_plugins.output_format import format_response
from moss_plugins.evaluation.trace_metrics import bootstrap_ci
from moss_plugins.viz.alignment import save_alignment_png
from moss_plugins.viz.report import render_report

PRED = ["The disc is red.", "It turns green.", "Then blue.", "So red is next."]
REF = [
    "The disc is red.",
    "The disc turns green.",
    "The disc turns blue.",
    "The cycle repeats, so red comes next.",
]
SIM = np.array([[1.0, 0.1, 0.0, 0.2], [0.3, 0.7, 0.1, 0.1], [0.2, 0.1, 0.5, 0.1], [0.2, 0.1, 0.1, 0.6]])
PATH = [(0, 0), (1, 1), (2, 2), (3, 3)]


def png_pixels(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_alignment_png_draws_the_heatmap_and_the_dtw_path(tmp_path):
    out = save_alignment_png(
        tmp_path / "a.png", PRED, REF, SIM, PATH, title="Which colour next?", threshold=0.5
    )
    pixels = png_pixels(out.read_bytes())
    assert pixels.shape[0] > 300 and pixels.shape[1] > 900
    red_path = (np.abs(pixels.astype(int) - (255, 59, 48)).sum(axis=2) < 40).sum()
    no_path = png_pixels(save_alignment_png(tmp_path / "b.png", PRED, REF, SIM, []).read_bytes())
    assert red_path > 200 and (np.abs(no_path.astype(int) - (255, 59, 48)).sum(axis=2) < 40).sum() == 0
    assert (
        np.abs(pixels.astype(int) - (253, 231, 37)).sum(axis=2) < 30
    ).sum() > 500  # the 1.0 cell, viridis yellow


def test_alignment_png_without_model_steps(tmp_path):
    out = save_alignment_png(tmp_path / "empty.png", [], REF, np.zeros((4, 0)), [], title="empty output")
    assert out.stat().st_size > 1000


@pytest.fixture
def report_items(lmms_export, monkeypatch):
    from moss_plugins.lmms_eval import dataset

    monkeypatch.setenv(dataset.DATA_ENV, str(lmms_export))
    docs = dataset.load_docs("test")
    outputs = [
        format_response(["The disc is red.", "The disc turns green.", "The disc turns blue."], "A"),
        "<think>Step 1: green</think><answer>B</answer>",
        "no format at all",
    ]
    return [moss_video_results(doc, out)["report"] for doc, out in zip(docs, outputs)]


def test_html_report_has_frames_alignment_and_scores(report_items):
    page = render_report(report_items, "moss_video_test", bootstrap_ci)
    assert page.count('<div class="card">') == 3
    first = page.split('<div class="card">')[1]
    assert (
        len(re.findall(r'<img src="data:image/jpeg;base64,', first)) == 6
    )  # the 6 observed frames, not the 8
    assert "1.25 s" in first and "1.50 s" not in first
    assert first.count('class="path"') == len(report_items[0]["path"])
    assert "R4</b> The cycle is red, green, blue, so red comes next." in first
    assert "accuracy 1.00" in first and "trace_dtw" in first
    summary = page.split("<h2>Samples</h2>")[0]
    assert "<b>all</b>" in summary and "<b>next_state</b>" in summary and "n=3" in summary


def test_moss_viz_commands(report_items, tmp_path, capsys):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        "".join(json.dumps({"doc_id": k, "report": item}) + "\n" for k, item in enumerate(report_items))
    )
    assert (
        moss(
            [
                "viz",
                "alignment",
                "--samples",
                str(samples),
                "--id",
                "fixture-test-0",
                "-o",
                str(tmp_path / "a.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert moss(["viz", "report", str(samples), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().count('<div class="card">') == 3
    with pytest.raises(SystemExit, match="--data needs --trace"):
        moss(["viz", "alignment", "--data", str(samples), "--id", "x"])
    with pytest.raises(SystemExit, match="out of range"):
        moss(["viz", "alignment", "--samples", str(samples), "--index", "7"])


def test_moss_viz_alignment_from_a_dataset_and_a_trace(lmms_export, tmp_path):
    trace = tmp_path / "trace.txt"
    trace.write_text("<think>Step 1: The disc is red.\nStep 2: It becomes green.</think><answer>A</answer>")
    out = tmp_path / "b.png"
    assert (
        moss(
            [
                "viz",
                "alignment",
                "--data",
                str(lmms_export / "test.jsonl"),
                "--id",
                "fixture-test-1",
                "--trace",
                f"@{trace}",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_size > 10_000
