"""``moss data build`` against inputs that its own plan would destroy, and against odd inputs and options: each is
refused with one line before anything is written, or has a documented, tested behaviour."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, BuildError, build_dataset
from moss_plugins.testing.annotated_videos import write_annotated_videos

CAPTIONS = [[f"video {v} shows event {k} here" for k in range(5)] for v in range(2)]


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, or ``-> target`` for a symlink."""
    return {
        str(p.relative_to(folder)): f"-> {os.readlink(p)}" if p.is_symlink() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def one_line_error(capsys, argv) -> str:
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert "Traceback" not in captured.out + captured.err
    return lines[-1]


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # rich would wrap long lines at 80 columns


# --- a plan that writes onto a file it reads ------------------------------------------------------------------


def kettle_in_place(tmp_path: Path, link: bool = False) -> tuple[Path, Path]:
    """OUT/videos/kettle.mp4 is the video of annotation "a" (used in place, or a link to it from an earlier
    build), and annotation "b", whose video lies elsewhere, has the id "kettle": placing b's video at
    OUT/videos/kettle.mp4 would replace a's."""
    src = tmp_path / "src"
    write_annotated_videos(src, CAPTIONS, names=["a", "b"])
    out = tmp_path / "out"
    (out / "videos").mkdir(parents=True)
    kettle = out / "videos" / "kettle.mp4"
    if link:
        kettle.symlink_to(src / "a.mp4")
    else:
        shutil.move(src / "a.mp4", kettle)
    rows = [
        {
            "video": str(kettle),
            "id": "a",
            "segments": [{"t": [k, k + 1], "caption": c} for k, c in enumerate(CAPTIONS[0])],
        },
        {
            "video": str(src / "b.mp4"),
            "id": "kettle",
            "segments": [{"t": [k, k + 1], "caption": c} for k, c in enumerate(CAPTIONS[1])],
        },
    ]
    ann = src / "annotations.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ann, out


@pytest.mark.parametrize("link", [False, True], ids=["file-in-place", "link-in-place"])
@pytest.mark.parametrize("copy", [False, True], ids=["symlink", "copy"])
def test_build_refuses_to_place_a_video_onto_another_annotations_video(tmp_path, link, copy):
    ann, out = kettle_in_place(tmp_path, link)
    before = tree(out)
    with pytest.raises(BuildError, match=r"videos/kettle\.mp4.*\bid\b"):
        build_dataset(read_annotations(ann), out, BuildConfig(test_fraction=0.0, copy_videos=copy))
    assert tree(out) == before  # nothing written, nothing replaced


def test_build_cli_refuses_it_in_one_line(tmp_path, capsys):
    ann, out = kettle_in_place(tmp_path)
    before = tree(out)
    line = one_line_error(capsys, ["data", "build", ann, "--out", out, "--test-fraction", "0"])
    assert "kettle.mp4" in line and "annotations.jsonl:1" in line and "annotations.jsonl:2" in line
    assert tree(out) == before


def test_rebuilding_over_the_links_of_an_earlier_build_is_still_allowed(tmp_path):
    """OUT/videos/<id>.mp4 left by an earlier build links to that annotation's own video: re-placing it there
    changes nothing, so the same command runs twice."""
    ann = write_annotated_videos(tmp_path / "src", CAPTIONS)
    for _ in range(2):
        build_dataset(read_annotations(ann), tmp_path / "out", BuildConfig(test_fraction=0.0))
    assert load_samples(tmp_path / "out").samples
