"""``moss data stats`` and the ``data`` demo stage on the bundled mini split."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image
from rich.console import Console

from moss_plugins.cli import main
from moss_plugins.data import load_samples, mini_split_dir, save_samples
from moss_plugins.demos.data import run as demo
from moss_plugins.data.stats import video_durations


def test_stats_tables_and_png(tmp_path, capsys):
    png = tmp_path / "stats.png"
    assert main(["data", "stats", str(mini_split_dir()), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    for needle in (
        "samples per split",
        "task types",
        "answer letters",
        "scene kinds",
        "next_state",
        "15 (25%)",
        "12 (20%)",
        "traffic_light",
    ):
        assert needle in out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 800 and image.height > 600


def test_durations_come_from_meta_or_the_file(tmp_path):
    samples = load_samples(mini_split_dir()).samples[:10]
    from_meta = video_durations(samples, mini_split_dir(), progress=False)
    shutil.copytree(mini_split_dir() / "videos", tmp_path / "videos")
    bare = [s.from_json({**s.to_json(), "meta": {}}) for s in samples]  # no meta.duration: read the headers
    save_samples(bare, tmp_path / "test.jsonl")
    from_files = video_durations(bare, tmp_path, progress=False)
    assert from_files.keys() == from_meta.keys()
    # The header's duration is the last frame's start plus one frame, the same as the generator's.
    assert all(from_files[v] == pytest.approx(from_meta[v]) for v in from_meta)


def test_stats_of_a_folder_without_samples_fails(tmp_path, capsys):
    assert main(["data", "stats", str(tmp_path)]) == 2
    assert "no *.jsonl" in capsys.readouterr().err


def test_demo_stage_separates_reference_and_wrong_traces(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    console = Console(record=True, width=200)
    demo(console)
    text = console.export_text()
    assert "120 samples, every row valid" in text
    assert "ranks the reference above the wrong trace for 120/120 samples" in text
    assert (tmp_path / "outputs" / "moss-video-mini-stats.png").is_file()
