"""load_frames: the masked future never leaks, sampling and resizing, errors, the killable decoder process."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from moss_plugins.data import video
from moss_plugins.data.video import (
    VideoCorruptError,
    VideoError,
    VideoNotFoundError,
    VideoTimeoutError,
    load_frames,
    output_size,
    select_indices,
)

MAGENTA = (255, 0, 255)
FPS, N, CUT = 10, 60, 37  # frames CUT.. are magenta: the masked future
STEP = 6  # frame k < CUT is grey 20 + STEP * k, so its index can be read back
ENCODINGS = {
    "x264 lossless, B-frames": ("libx264", {"qp": "0", "bf": "3"}),
    "x264 lossless, keyframe every 6": ("libx264", {"qp": "0", "g": "6", "bf": "2"}),
    "x264 lossy": ("libx264", {"crf": "30"}),
    "mpeg4": ("mpeg4", {"qscale": "3"}),
}
SAMPLINGS = [
    {},
    {"fps": 2},
    {"fps": 3.7},
    {"fps": 50},
    {"nframes": 1},
    {"nframes": 5},
    {"nframes": 36},
    {"nframes": 100},
    {"max_pixels": 700},
]
UNTILS = [
    CUT / FPS,
    CUT / FPS - 0.05,
    (CUT - 1) / FPS + 0.001,
]  # on the first masked frame, between, just after


def _color(k: int) -> tuple:
    return MAGENTA if k >= CUT else (20 + STEP * k,) * 3


@pytest.fixture(scope="module")
def leak_videos(tmp_path_factory, video_writer):
    root = tmp_path_factory.mktemp("leak")
    return {
        name: video_writer(root / f"{k}.mp4", N, FPS, color_of=_color, codec=codec, options=options)
        for k, (name, (codec, options)) in enumerate(ENCODINGS.items())
    }


def _is_magenta(frame: np.ndarray) -> bool:
    f = frame.astype(int)
    return bool(((f[..., 0] > 180) & (f[..., 1] < 90) & (f[..., 2] > 180)).mean() > 0.2)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_the_masked_future_never_leaks(leak_videos, backend, encoding):
    path = leak_videos[encoding]
    lossless = "lossless" in encoding
    times = load_frames(path, backend=backend, timeout=None).timestamps
    for until in [
        *UNTILS,
        float(times[CUT]),
    ]:  # the last one: frame CUT's start exactly as this backend reads it
        visible = int((times < until).sum())
        assert visible == CUT  # frames 0..CUT-1 start before every one of these cuts
        for sampling in SAMPLINGS:
            got = load_frames(path, until=until, backend=backend, timeout=None, **sampling)
            where = f"{backend} {encoding} until={until} {sampling}"
            assert len(got.frames) == len(got.timestamps) > 0, where
            assert (got.timestamps < until).all(), where
            assert (np.diff(got.timestamps) >= 0).all(), where
            assert not any(_is_magenta(f) for f in got.frames), f"{where}: a masked frame leaked"
            indices = np.round(got.timestamps * FPS).astype(int)
            assert np.allclose(got.timestamps, indices / FPS), where
            if lossless:  # every frame is the one its timestamp names (no approximate seek)
                grey = got.frames[..., 1].reshape(len(got.frames), -1).mean(axis=1)
                assert np.abs(grey - (20 + STEP * indices)).max() < STEP / 2, where
            if "nframes" in sampling:
                assert len(got.frames) == sampling["nframes"], where
                if sampling["nframes"] > 1:
                    assert indices[0] == 0 and indices[-1] == visible - 1, (
                        where
                    )  # the last visible frame is kept
            elif "fps" in sampling:
                targets = np.arange(0, until, 1 / sampling["fps"])
                expected = np.unique(np.minimum(np.floor(targets * FPS + 1e-9).astype(int), visible - 1))
                assert indices.tolist() == expected.tolist(), where
            else:
                assert indices.tolist() == list(range(visible)), where
            if "max_pixels" in sampling:
                h, w = got.frames.shape[1:3]
                assert h * w <= sampling["max_pixels"] and abs(w / h - 64 / 48) < 0.15, where


def test_through_the_decoder_process_the_result_is_the_same(leak_videos):
    path = leak_videos["x264 lossless, B-frames"]
    for backend in ("decord", "pyav"):
        direct = load_frames(path, nframes=7, until=3.0, max_pixels=900, backend=backend, timeout=None)
        worker = load_frames(path, nframes=7, until=3.0, max_pixels=900, backend=backend, timeout=30)
        assert np.array_equal(direct.frames, worker.frames) and np.array_equal(
            direct.timestamps, worker.timestamps
        )
        assert worker.source_fps == pytest.approx(FPS) and worker.duration == pytest.approx(N / FPS)
        assert worker.backend == backend


def test_whole_video_metadata(video_factory):
    got = load_frames(video_factory(n=12, fps=4), backend="auto")
    assert got.frames.shape == (12, 48, 64, 3) and got.frames.dtype == np.uint8
    assert got.timestamps.tolist() == [k / 4 for k in range(12)]
    assert got.source_fps == pytest.approx(4) and got.duration == pytest.approx(3.0)
    assert got.backend in ("decord", "pyav")


def test_select_indices():
    times = np.arange(10) / 4  # 0, 0.25, ..., 2.25
    assert select_indices(times, None, None, 1.0).tolist() == [0, 1, 2, 3]  # the frame at 1.0 s is masked
    assert select_indices(times, None, 3, 1.01).tolist() == [0, 2, 4]
    assert select_indices(times, None, 6, 1.0).tolist() == [0, 1, 1, 2, 2, 3]  # exact count, repeats
    assert select_indices(times, 1.0, None, None).tolist() == [0, 4, 8]
    assert select_indices(times, 100.0, None, 0.6).tolist() == [0, 1, 2]  # above the source rate: each once
    assert select_indices(times, None, None, 0.0001).tolist() == [0]
    assert select_indices(times, 2.0, None, 1e-9 + 0).tolist() == [0]


def test_output_size_caps_pixels_and_keeps_the_aspect_ratio():
    assert output_size(480, 640, None) == (480, 640)
    assert output_size(480, 640, 10**6) == (480, 640)  # never upscaled
    h, w = output_size(480, 640, 100_000)
    assert h * w <= 100_000 and (h, w) == (273, 365)
    assert output_size(1, 5000, 10) == (1, 10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 1, "nframes": 2},
        {"fps": 0},
        {"nframes": 0},
        {"nframes": 2.5},
        {"until": 0},
        {"max_pixels": 0},
        {"timeout": 0},
        {"backend": "cv2"},
    ],
)
def test_bad_arguments_are_value_errors(video_factory, kwargs):
    with pytest.raises(ValueError):
        load_frames(video_factory(n=4, fps=4), **kwargs)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(VideoNotFoundError, match="nope.mp4: no such video file"):
        load_frames(tmp_path / "nope.mp4")
    with pytest.raises(VideoNotFoundError, match="is a folder"):
        load_frames(tmp_path)
    assert issubclass(VideoNotFoundError, FileNotFoundError)


@pytest.mark.parametrize("backend", ["decord", "pyav", "auto"])
def test_corrupt_file(tmp_path, video_factory, backend):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video_factory(n=20, fps=4).read_bytes()[:1500])
    for path in (junk, truncated):
        with pytest.raises(VideoCorruptError, match=str(path)) as err:
            load_frames(path, backend=backend, timeout=30)
        if backend == "auto":  # both decoders were tried, and the message says so
            assert "decord" in str(err.value) and "pyav" in str(err.value)


def test_nothing_before_until_is_an_error(monkeypatch, video_factory):
    # Frame times start at 0 s, so any until > 0 keeps frame 0; a decoder that returned nothing still fails.
    monkeypatch.setattr(video, "select_indices", lambda *args: np.zeros(0, dtype=np.int64))
    with pytest.raises(VideoError, match="no frame starts before until=1.0"):
        load_frames(video_factory(n=8, fps=4), until=1.0, backend="pyav", timeout=None)


@pytest.fixture
def hanging_video(tmp_path):
    """A "video" whose reader blocks forever: a named pipe nobody writes to (as on a stalled network mount)."""
    path = tmp_path / "hangs.mp4"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_a_hanging_decoder_is_killed_at_the_timeout(hanging_video, video_factory, backend):
    with pytest.raises(VideoTimeoutError, match=f"{hanging_video}.*did not finish within 1 s"):
        load_frames(hanging_video, timeout=1, backend=backend)
    assert (
        len(load_frames(video_factory(n=4, fps=4), timeout=30, backend=backend).frames) == 4
    )  # a fresh helper


def test_auto_tries_pyav_after_decord_hangs(hanging_video):
    with pytest.raises(VideoTimeoutError) as err:
        load_frames(hanging_video, timeout=0.5)
    assert "pyav decoder did not finish" in str(err.value) and "decord decoder did not finish" in str(
        err.value
    )


def _idle_helper() -> video._Worker:
    """The helper the next call will take (the pool hands out the most recently returned one)."""
    with video._checked_out():
        pass
    return video._IDLE[-1]


def test_a_crashing_decoder_is_a_corrupt_error(hanging_video, video_factory):
    helper = _idle_helper()
    killer = threading.Timer(0.5, helper.proc.kill)  # the helper dies mid-decode, as on a segfault
    killer.start()
    try:
        with pytest.raises(VideoCorruptError, match="crashed"):
            load_frames(hanging_video, timeout=60, backend="pyav")
    finally:
        killer.cancel()
    assert len(load_frames(video_factory(n=4, fps=4), timeout=30).frames) == 4


def _load_in_child(path: str) -> tuple:
    got = load_frames(path, timeout=30, backend="pyav")
    return got.frames.shape, os.getpid()


def test_threads_share_the_helpers_and_forked_children_get_their_own(video_factory):
    path = str(video_factory(n=6, fps=4))
    parent_helper = _idle_helper()
    results = {}

    def load(name):
        results[name] = load_frames(path, timeout=30, nframes=3).frames

    threads = [threading.Thread(target=load, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[0], r) for r in results.values())
    with multiprocessing.get_context("fork").Pool(
        1
    ) as pool:  # the child must not talk to the parent's helper
        shape, pid = pool.apply(_load_in_child, (path,))
    assert shape == (6, 48, 64, 3) and pid != os.getpid()
    assert parent_helper.alive() and parent_helper in video._IDLE


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" in f.read()  # a zombie nobody reaps is dead too
    except FileNotFoundError:
        return True


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the helper's parent-death signal is Linux only"
)
def test_a_helper_stuck_in_a_hanging_decode_dies_with_its_parent(hanging_video):
    code = (
        "import sys; from moss_plugins.data import video\nwith video._checked_out() as w: pass\n"
        "print(w.proc.pid, flush=True); "
        "video.load_frames(sys.argv[1], timeout=600, backend='pyav')"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(hanging_video)], stdout=subprocess.PIPE, text=True
    )
    helper = int(parent.stdout.readline())
    assert not _gone(helper)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while not _gone(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(helper), "the helper outlived its parent"
