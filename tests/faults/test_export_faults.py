"""Nothing lost: ``moss data export`` and ``moss data build`` never delete, overwrite or leave half-written files.

Each case was found destroying or escaping data: exporting a folder into itself deleted its videos (or, with
``--symlink``, turned each into a link to itself), a ``meta.states`` with ``..`` made export copy a file from
outside ``--in`` to outside ``--out``, a build into a folder whose ``videos/`` links to the sources deleted them,
and a killed export left truncated videos under their final names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import textwrap
from pathlib import Path

import pytest
from interrupt import signal_when_marked

from moss_plugins.cli import main
from moss_plugins.data import load_samples, mini_split_dir, save_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.build import BuildConfig, BuildError, build_dataset
from moss_plugins.lmms_eval.rows import export_lmms
from moss_plugins.testing.annotated_videos import write_annotated_videos
from moss_plugins.verl.rows import export_verl


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, or ``-> target`` for a symlink."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(folder))] = f"-> {os.readlink(p)}"
        elif p.is_file():
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A small MOSS-Video folder: 6 samples of the bundled split, their videos and per-frame state files."""
    src = mini_split_dir()
    samples = load_samples(src / "test.jsonl").samples[:6]
    folder = tmp_path / "data"
    for s in samples:
        for rel in (s.video, s.meta["states"]):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, folder / rel)
    save_samples(samples, folder / "test.jsonl")
    return folder


def export(fmt: str, src: Path, out: Path, *extra: str) -> int:
    return main(["data", "export", "--format", fmt, "--in", str(src), "--out", str(out), *extra])


# --- the output overlaps the input ----------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--symlink",)], ids=["copy", "symlink"])
@pytest.mark.parametrize("where", ["same", "inside", "holds", "via-symlink"])
def test_export_into_its_own_input_is_refused_and_changes_nothing(dataset, tmp_path, where, extra, capsys):
    if where == "same":
        out = dataset
    elif where == "inside":
        out = dataset / "export"
    elif where == "holds":  # the input is a folder inside the output (out/data/... == in/...)
        out = tmp_path
    else:
        out = tmp_path / "link"
        out.symlink_to(dataset)
    before = tree(dataset)
    assert export("lmms", dataset, out, *extra) == 2  # one line, no traceback
    assert re.search(r"^moss: error: .*input", capsys.readouterr().err, re.M)
    assert tree(dataset) == before


def test_verl_export_into_its_input_is_refused(dataset):
    before = tree(dataset)
    with pytest.raises(Exception, match="input"):
        export_verl(dataset, dataset)
    assert tree(dataset) == before
    parquet = save_samples(load_samples(dataset).samples, dataset / "in.parquet")  # exported onto itself
    before = parquet.read_bytes()
    with pytest.raises(Exception, match="input"):
        export_verl(parquet, parquet)
    assert parquet.read_bytes() == before


# --- row paths that leave the dataset folder ------------------------------------------------------------------


def _escaping_states(dataset: Path, tmp_path: Path) -> Path:
    """The first row's ``meta.states`` climbs two folders up, to a file outside --in."""
    outside = tmp_path / "secret.json"
    outside.write_text(
        (
            dataset / json.loads((dataset / "test.jsonl").read_text().splitlines()[0])["meta"]["states"]
        ).read_text()
    )
    lines = (dataset / "test.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["meta"]["states"] = "../../secret.json"
    (dataset / "test.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    return outside


@pytest.mark.parametrize("fmt", ["lmms", "verl"])
def test_a_states_path_leaving_the_folder_is_refused(dataset, tmp_path, fmt):
    outside = _escaping_states(dataset, tmp_path)
    out = tmp_path / "deep" / "out"
    with pytest.raises(Exception, match=r"meta\.states.*\.\."):
        (export_lmms if fmt == "lmms" else export_verl)(dataset, out)
    assert outside.exists()
    assert not (
        tmp_path / "deep" / "secret.json"
    ).exists()  # where `videos/../../secret.json` lands under --out
    assert not out.exists() or not any(out.rglob("*.jsonl"))


def test_validate_names_the_escaping_states_path(dataset, tmp_path, capsys):
    _escaping_states(dataset, tmp_path)
    assert main(["data", "validate", str(dataset)]) != 0
    assert "meta.states" in capsys.readouterr().out


def test_lmms_loader_refuses_a_video_path_leaving_the_export(dataset, tmp_path):
    from moss_plugins.lmms_eval import dataset as lmms_dataset

    out = tmp_path / "lmms"
    export_lmms(dataset, out)
    lines = (out / "test.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["video"] = "../data/" + row["video"]  # exists, but outside the export
    (out / "test.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(lmms_dataset.DatasetError, match=r"test\.jsonl:1.*video.*\.\."):
        lmms_dataset.load_docs("test", out)


# --- build ----------------------------------------------------------------------------------------------------


def _annotated(folder: Path, n: int = 2) -> Path:
    return write_annotated_videos(
        folder, [[f"video {v} shows event {k} here" for k in range(5)] for v in range(n)]
    )


def test_build_never_replaces_an_annotation_file_named_like_its_output(tmp_path):
    ann = _annotated(tmp_path)
    named = ann.rename(tmp_path / "train.jsonl")  # the build writes OUT/train.jsonl
    before = named.read_bytes()
    with pytest.raises(BuildError, match="annotation file"):
        build_dataset(read_annotations(named), tmp_path, BuildConfig(test_fraction=0.0))
    assert named.read_bytes() == before


def test_build_leaves_a_source_video_that_out_videos_already_is(tmp_path):
    """OUT/videos is a symlink to the sources' folder: placing a video there must not delete the source."""
    ann = _annotated(tmp_path / "raw")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "videos").symlink_to(tmp_path / "raw")
    before = tree(tmp_path / "raw")
    build_dataset(read_annotations(ann), tmp_path / "out", BuildConfig(test_fraction=0.0))
    assert tree(tmp_path / "raw") == before
    samples = load_samples(tmp_path / "out").samples
    assert samples and all((tmp_path / "out" / s.video).is_file() for s in samples)


def test_build_refuses_to_cut_clips_over_its_own_sources(tmp_path):
    ann = _annotated(tmp_path / "out" / "clips")
    before = tree(tmp_path / "out" / "clips")
    with pytest.raises(BuildError, match="clips"):
        build_dataset(read_annotations(ann), tmp_path / "out", BuildConfig(cut_clips=True))
    assert tree(tmp_path / "out" / "clips") == before


# --- killed mid-write -----------------------------------------------------------------------------------------

# Runs an export (or a build) whose file copy writes half of a file, says so, then hangs: the test kills it there.
_SLOW_COPY = textwrap.dedent("""
    import shutil, sys, time
    from pathlib import Path
    marker = Path(sys.argv[1])
    def slow_copy(src, dst, *args, **kwargs):
        data = Path(src).read_bytes()
        with open(dst, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            marker.touch()
            time.sleep(60)
            f.write(data[len(data) // 2:])
        return dst
    shutil.copyfile = shutil.copy2 = slow_copy  # before moss_plugins binds them
    from moss_plugins.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _partial_or_temp(out: Path, sources: dict[str, bytes]) -> list[str]:
    """Files under ``out`` that are temporary, or hold part of a source (``sources``: name -> bytes) under a final
    name."""
    bad = []
    for p in out.rglob("*"):
        if p.name.startswith(".") or "tmp" in p.name:  # a temporary name (any scheme: hidden, or *tmp*)
            bad.append(f"temp {p.name}")
        elif p.is_file() and p.is_relative_to(out / "videos") and p.read_bytes() not in sources.values():
            bad.append(f"partial {p.relative_to(out)}")
    return bad


def _media(folder: Path) -> dict[str, bytes]:
    """The files a dataset's rows point at (videos, per-frame states), by name."""
    return {
        p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix in (".mp4", ".json")
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["interrupted", "killed"])
def test_a_killed_export_leaves_no_partial_file_and_the_next_run_completes(dataset, tmp_path, sig):
    out = tmp_path / "out"
    argv = ["data", "export", "--format", "lmms", "--in", str(dataset), "--out", str(out)]
    signal_when_marked(_SLOW_COPY, tmp_path / "copying", argv, sig)
    sources = _media(dataset)
    assert [
        b for b in _partial_or_temp(out, sources) if sig == signal.SIGINT or not b.startswith("temp")
    ] == []
    assert not list(out.glob("*.jsonl")), "a split file was written before its videos"
    assert main(argv) == 0  # the next run completes, and clears what the killed one left
    assert _partial_or_temp(out, sources) == []
    assert len(load_samples(dataset).samples) == sum(1 for _ in (out / "test.jsonl").open())
    assert _media(out / "videos") == sources


def test_a_killed_build_leaves_no_partial_file_and_the_next_run_completes(tmp_path):
    ann = _annotated(tmp_path / "src", 3)
    out = tmp_path / "out"
    argv = ["data", "build", str(ann), "--out", str(out), "--copy-videos", "--test-fraction", "0.34"]
    signal_when_marked(_SLOW_COPY, tmp_path / "copying", argv, signal.SIGKILL)
    sources = _media(tmp_path / "src")
    assert [b for b in _partial_or_temp(out, sources) if not b.startswith("temp")] == []
    assert main(argv) == 0
    assert _partial_or_temp(out, sources) == []
    assert sorted(_media(out / "videos").values()) == sorted(sources.values())
