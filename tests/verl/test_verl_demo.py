"""`moss demo --only verl` runs on CPU and reports what it promises."""

from rich.console import Console

from moss_plugins.demos import verl as demo


def test_demo_stage_reports_one_decode_per_group_a_scored_group_and_a_picture(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    console = Console(record=True, width=200)
    demo.run(console)
    report = console.export_text()
    assert "register:moss_dtw" in report and "MossVideoDataset" in report
    assert "-> 1 decode (8 requests)" in report and "all before the cut" in report
    (reference,) = [line for line in report.splitlines() if "the reference trace" in line]
    assert reference.split("│")[2].strip() == "1.700" and "cut at the length limit" in report
    assert "The video, described in text:" in report
    (png,) = (tmp_path / demo.OUT).glob("*.png")
    assert png.stat().st_size > 10_000
