"""Video faults: a cut on a frame, a video that does not start at 0 s, bad files, and many short-lived threads.

Each class must fail loudly and early (``moss data validate``, verl's start-up row check, lmms-eval's loader),
naming file, line and field, or be handled exactly (the frames before the cut, on the container's clock), and
must not leak resources.
"""

from __future__ import annotations

import json
import os
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.cli import main
from moss_plugins.data import load_samples, mini_split_dir
from moss_plugins.data.clips import cut_clips
from moss_plugins.sample import ValidationError
from moss_plugins.data.video import load_frames

av = pytest.importorskip("av")

MODES = {"in-process": None, "helper": 30}


def encode(
    path: Path, n: int, fps: int = 25, size=(64, 48), start: float = 0.0, options=None, container_options=None
) -> Path:
    """``n`` frames at ``fps`` in a 1/12800 s timeline (what ffmpeg writes for 25 fps MP4) from ``start`` s;
    frame k is grey 4 + 4k (mod 256) with a little noise, so frames differ and compress like footage."""
    time_base = Fraction(1, 12800)
    step = 12800 // fps
    rng = np.random.default_rng(n)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = options or {}
        for k in range(n):
            image = np.clip((4 + 4 * k) % 256 + rng.integers(-3, 4, (size[1], size[0], 3)), 0, 255).astype(
                np.uint8
            )
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(start * 12800) + step * k, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


# --- a cut that falls on a frame ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_25fps(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("cut") / "a.mp4", 80, options={"bf": "3", "g": "25"})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_a_cut_on_a_frame_excludes_that_frame_and_keeps_the_count(video_25fps, backend, mode):
    """Cuts written as decimals at frame boundaries (k * 0.04 s): decord's float32 times let the frame at the
    cut through the helper and dropped one in-process."""
    problems = []
    for k in range(1, 79):
        cut = round(k * 0.04, 6)
        got = load_frames(video_25fps, nframes=3, until=cut, backend=backend, timeout=MODES[mode])
        if (
            len(got.timestamps) != 3
            or got.timestamps.max() >= cut
            or got.timestamps[-1] != round((k - 1) * 0.04, 6)
        ):
            problems.append((cut, got.timestamps.tolist()))
    assert not problems, f"{len(problems)} of 78 frame-aligned cuts: {problems[:3]}"


# --- one clock ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offset_video(tmp_path_factory) -> Path:
    """2 s at 25 fps whose first frame is shown at 20 s (as in a stream or an MPEG-TS recording)."""
    return encode(tmp_path_factory.mktemp("offset") / "late.mp4", 50, start=20.0, options={"bf": "2"})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_the_loader_and_the_clip_cutter_read_one_clock(offset_video, tmp_path, backend, mode):
    cut = 21.0
    loaded = load_frames(offset_video, until=cut, backend=backend, timeout=MODES[mode])
    assert loaded.timestamps[0] == 20.0 and loaded.timestamps[-1] == 20.96 and len(loaded.timestamps) == 25
    assert cut_clips(offset_video, {cut: tmp_path / "clip.mp4"})[cut] == 25
    clip = load_frames(tmp_path / "clip.mp4", backend=backend, timeout=MODES[mode])
    assert clip.timestamps.tolist() == loaded.timestamps.tolist()


def test_the_builder_reads_segments_on_the_video_clock(offset_video, tmp_path):
    from moss_plugins.data.annotations import read_annotations
    from moss_plugins.data.build import BuildConfig, build_dataset

    captions = [
        "A cup stands on a table.",
        "A hand lifts the cup.",
        "Water is poured into the cup.",
        "The cup is set down again.",
    ]
    (tmp_path / "late.mp4").write_bytes(offset_video.read_bytes())
    segments = [{"t": [20 + 0.5 * k, 20.5 + 0.5 * k], "caption": c} for k, c in enumerate(captions)]
    (tmp_path / "annotations.jsonl").write_text(
        json.dumps({"video": "late.mp4", "segments": segments}) + "\n"
    )
    config = BuildConfig(min_observed=0.4, test_fraction=0.0, cut_clips=True)
    build_dataset(read_annotations(tmp_path / "annotations.jsonl"), tmp_path / "out", config)
    samples = load_samples(tmp_path / "out").samples
    assert samples and all(20 < s.observed_until < 22 for s in samples)
    for s in samples:  # the clip the builder cut holds exactly the frames the loader sees before the cut
        assert s.meta["clip_frames"] == len(load_frames(offset_video, until=s.observed_until).timestamps)


def test_stats_read_the_video_clock(offset_video):
    from moss_plugins.data.stats import video_durations

    sample = load_samples(mini_split_dir() / "test.jsonl").samples[0]
    sample = type(sample).from_json({**sample.to_json(), "video": offset_video.name, "meta": {}})
    # plotted beside observed_until, so on its clock: the video ends at 22 s (it lasts 2 s)
    assert video_durations([sample], offset_video.parent, progress=False) == {offset_video.name: 22.0}


def test_viz_reads_the_video_clock(offset_video):
    import re

    from moss_plugins.viz.report import frame_strip

    captions = [
        float(t)
        for t in re.findall(r"<figcaption>([\d.]+) s</figcaption>", frame_strip(str(offset_video), 21.0))
    ]
    assert captions and all(20.0 <= t < 21.0 for t in captions), (
        captions
    )  # the strip shows the frames before 21 s


# --- bad video files: caught by validate, verl's start-up check and lmms-eval's loader -------------------

TEMPLATE = json.loads((mini_split_dir() / "test.jsonl").read_text().splitlines()[0])  # cut at a few seconds
TEMPLATE["meta"] = {
    k: v for k, v in TEMPLATE["meta"].items() if k != "states"
}  # only the video is under test


def _good(path: Path, **kwargs) -> Path:
    return encode(path, 12 * 10, fps=10, **kwargs)  # 12 s, longer than every mini cut


def _truncated(keep: float, **kwargs):
    def make(path: Path) -> None:
        _good(path, **kwargs)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return make


FAULTS = {
    # name: (how to spoil the sample's video, the field named, a phrase of the message)
    "missing": (lambda p: None, "video", "no such video file"),
    "empty": (lambda p: p.write_bytes(b""), "video", "empty"),
    "not a video": (lambda p: p.write_text("this is not a video\n" * 20), "video", "not a readable video"),
    "truncated, index at the end": (_truncated(0.6), "video", "not a readable video"),
    "truncated, index first": (
        _truncated(0.6, container_options={"movflags": "faststart"}),
        "video",
        "truncated",
    ),
    "aspect ratio 250:1": (
        lambda p: encode(p, 130, fps=10, size=(1000, 4)),
        "video",
        "aspect ratio of 250:1",
    ),
    "first frame after the cut": (lambda p: _good(p, start=30.0), "observed_until", "no frame"),
}


@pytest.fixture(params=list(FAULTS))
def spoiled(request, tmp_path):
    """(folder with one-sample test.jsonl and its spoiled video, fault name)."""
    folder = tmp_path / "data"
    (folder / "videos").mkdir(parents=True)
    spoil = FAULTS[request.param][0]
    spoil(folder / "videos" / "v.mp4")
    (folder / "test.jsonl").write_text(json.dumps({**TEMPLATE, "video": "videos/v.mp4"}) + "\n")
    return folder, request.param


def test_validate_opens_the_videos(spoiled, capsys, monkeypatch):
    folder, fault = spoiled
    monkeypatch.setenv("COLUMNS", "400")
    _, field, phrase = FAULTS[fault]
    assert main(["data", "validate", str(folder)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"{folder / 'test.jsonl'}:1: {field}: " in out and phrase in out, out


def test_verl_start_up_check_opens_the_videos(spoiled):
    from moss_plugins.verl.rows import verl_row
    from moss_plugins.verl.rows import check_row

    folder, fault = spoiled
    _, field, phrase = FAULTS[fault]
    sample = load_samples(folder / "test.jsonl").samples[0]
    with pytest.raises(ValidationError, match=phrase if fault != "missing" else "is not a file") as error:
        check_row(verl_row(sample, 0, folder))
    assert error.value.field == ("videos[0].video_end" if field == "observed_until" else "videos[0].video")


def test_lmms_loader_opens_the_videos(spoiled, tmp_path, monkeypatch):
    from moss_plugins.env import CACHE_ENV
    from moss_plugins.lmms_eval.dataset import DatasetError, load_docs

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # clips, if any were cut, stay in this test

    folder, fault = spoiled
    phrase = FAULTS[fault][2] if fault != "missing" else "not found|no such video"
    with pytest.raises(DatasetError, match=rf"test\.jsonl:1: .*({phrase})"):
        load_docs("test", _lmms_export(folder))


def _lmms_export(folder: Path) -> Path:
    """The lmms export layout (``moss data export --format lmms``) of the one sample, video as it is."""
    from moss_plugins.lmms_eval.rows import lmms_row

    sample = load_samples(folder / "test.jsonl").samples[0]
    (folder / "lmms").mkdir()
    (folder / "lmms" / "videos").symlink_to(folder / "videos")
    (folder / "lmms" / "test.jsonl").write_text(json.dumps(lmms_row(sample, sample.video)) + "\n")
    return folder / "lmms"


def test_lmms_loader_names_the_line_of_bytes_that_are_not_utf8(tmp_path):
    from moss_plugins.lmms_eval.dataset import DatasetError, read_rows

    (tmp_path / "test.jsonl").write_bytes(json.dumps(TEMPLATE).encode() + b'\n{"id": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match=r"test\.jsonl:2: not UTF-8"):
        read_rows(tmp_path, "test")


def test_a_good_video_passes_every_check(tmp_path):
    """The other side: a sound video passes all three, and checking it many times decodes it once."""
    from moss_plugins.data import video_check

    folder = tmp_path / "data"
    (folder / "videos").mkdir(parents=True)
    _good(folder / "videos" / "v.mp4")
    rows = [{**TEMPLATE, "id": f"s{k}", "video": "videos/v.mp4"} for k in range(50)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls = []
    real = video_check.load_frames
    video_check.load_frames = lambda *a, **kw: calls.append(a) or real(*a, **kw)
    try:
        assert main(["data", "validate", str(folder)]) == 0
    finally:
        video_check.load_frames = real
    assert len(calls) <= 1


# --- the decoder helper: no fd or process growth from short-lived threads ----------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _children() -> int:
    """Processes whose parent is this one, zombies included."""
    me, n = os.getpid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                n += int(f.read().rsplit(")", 1)[1].split()[1]) == me
        except (OSError, IndexError, ValueError):
            pass
    return n


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds and children through /proc")
def test_short_lived_threads_leave_no_helpers_or_pipes_behind(video_25fps):
    def wave(n_threads: int) -> None:
        errors = []

        def work():
            try:
                assert (
                    len(load_frames(video_25fps, nframes=2, until=1.0, backend="pyav", timeout=30).frames)
                    == 2
                )
            except Exception as e:  # surfaced below: an exception in a thread would be lost
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors

    # The pool may grow to one helper (two pipe ends) per concurrent caller, whenever the callers happen to
    # overlap; a helper (or a zombie and its pipes) per thread is the leak.
    fds, children = _open_fds(), _children()
    for _ in range(26):  # 208 threads, each making one call and ending
        wave(8)
    assert _children() <= children + 8, "helpers (or zombies) accumulate"
    assert _open_fds() <= fds + 2 * 8, "pipes to helpers accumulate"
