"""Where the ``moss_video`` tasks read MOSS-Video from, and the leak-free clips the model is shown.

The tasks read an lmms export (``moss data export --format lmms``: ``<split>.jsonl`` + ``videos/``) from the
folder named by the environment variable :data:`DATA_ENV` (``MOSS_VIDEO_LMMS_DIR``), by default an lmms
export of the mini split bundled with the package, written once into the cache (:func:`cache_root`), so the
task runs offline.

lmms-eval loads a task's data from paths fixed in its YAML, so the YAML loads a one-row pointer file
(``{"split": "test"}``) and its ``process_docs`` (:func:`process_docs`) returns the rows of that split from
the folder above. That keeps the task an ordinary YAML task, which lmms-eval builds for chat and for
simple models alike.

Leak-free video: each doc's ``observed_video`` is a file holding only the frames before ``observed_until``.
lmms-eval backends are handed a path and read all of it (``qwen2_5_vl`` via qwen-vl-utils, which with a
``video_end`` would still include the frame at the cut; ``vllm`` and ``openai`` decode the file or pass its
URL to a server), so the cut must be physical. A video already cut (no frame at or after ``observed_until``,
checked on packet timestamps without decoding) is used as it is; others are cut once into the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..data.export import LMMS_JSON_FIELDS
from ..data.paths import confined
from ..data.schema import ValidationError

DATA_ENV = "MOSS_VIDEO_LMMS_DIR"
CACHE_ENV = "MOSS_PLUGINS_CACHE"
ROW_FIELDS = ("id", "video", "question", "options", "answer", "task_type", "observed_until", "trace", "split")


class DatasetError(ValueError):
    """The lmms export is missing or malformed; the message names the file (and line) and what to do."""


def cache_root() -> Path:
    """``$MOSS_PLUGINS_CACHE``, else ``$XDG_CACHE_HOME/moss-plugins``, else ``~/.cache/moss-plugins``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "moss-plugins"


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def default_data_dir() -> Path:
    """An lmms export of the bundled mini split, written into the cache on first use."""
    from ..data import mini_split_dir
    from ..data.export import export_lmms

    mini = mini_split_dir()
    target = cache_root() / "lmms" / f"mini-{_tree_digest(mini)}"
    if not (target / "test.jsonl").exists():
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        export_lmms(mini, tmp, link=True)  # symlinks: the videos stay in the package
        try:
            tmp.rename(target)
        except OSError:  # another process (an lmms-eval rank) won the race; its export is identical
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def data_dir() -> Path:
    """The lmms export the tasks read: ``$MOSS_VIDEO_LMMS_DIR`` or the bundled mini split's."""
    configured = os.environ.get(DATA_ENV, "").strip()
    if not configured:
        return default_data_dir()
    folder = Path(configured).expanduser()
    if not folder.is_dir():
        raise DatasetError(
            f"{DATA_ENV}={configured}: no such folder; point it at the output of "
            "`moss data export --format lmms`, or unset it to use the bundled mini split"
        )
    return folder


def read_rows(folder: Path, split: str) -> list[dict]:
    """The rows of ``<folder>/<split>.jsonl``, checked for the fields the tasks use."""
    path = folder / f"{split}.jsonl"
    if not path.exists():
        have = sorted(p.stem for p in folder.glob("*.jsonl"))
        raise DatasetError(f"{path}: no {split!r} split in this lmms export (it has {have})")
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{where}: not valid JSON ({e.msg})") from None
            missing = [k for k in ROW_FIELDS if k not in row]
            if missing:
                raise DatasetError(f"{where}: missing field(s) {missing}; re-export with `moss data export --format lmms`")
            for key in LMMS_JSON_FIELDS:  # JSON strings in the export (free-form nested objects)
                if key in row and not isinstance(row[key], str):
                    row[key] = json.dumps(row[key], ensure_ascii=False)
            rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: the split is empty")
    return rows


def last_frame_time(path: str | os.PathLike) -> float:
    """Timestamp of the last frame, from packet timestamps (no decoding), on the same clock as
    :func:`moss_plugins.data.clips.cut_clips` (the stream's own presentation times)."""
    import av

    last = float("-inf")
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
    return last


def observed_clip(video: Path, until: float, cache: Path, last_frames: dict[Path, float] | None = None) -> Path:
    """``video`` itself when it has no frame at or after ``until``, else a clip of it cut there (cached).

    ``last_frames`` (video -> :func:`last_frame_time`), shared across calls, scans each video once: rows of a
    split share videos."""
    if last_frames is None:
        last_frames = {}
    if video not in last_frames:
        last_frames[video] = last_frame_time(video)
    if last_frames[video] < until:
        return video
    st = video.stat()
    key = hashlib.sha1(f"{video.resolve()}:{st.st_size}:{st.st_mtime_ns}:{until!r}".encode()).hexdigest()[:16]
    clip = cache / f"{video.stem}-{key}.mp4"
    if not clip.exists():
        from ..data.clips import cut_clips

        tmp = clip.with_name(clip.stem + f".tmp{os.getpid()}.mp4")
        cut_clips(video, {until: tmp})
        tmp.replace(clip)
    return clip


def load_docs(split: str, folder: Path | None = None) -> list[dict]:
    """The docs of one split: the export's rows plus ``observed_video``, the absolute path of the clip."""
    from tqdm import tqdm

    folder = folder or data_dir()
    rows = read_rows(folder, split)
    cache = cache_root() / "clips"
    cache.mkdir(parents=True, exist_ok=True)
    last_frames: dict[Path, float] = {}
    for k, row in enumerate(tqdm(rows, desc=f"moss_video {split}: observed clips", disable=len(rows) < 50)):
        try:
            video = confined(folder, row["video"], "video").resolve()
        except ValidationError as e:
            raise DatasetError(f"{folder / f'{split}.jsonl'}:{k + 1}: {e}") from None
        if not video.is_file():
            raise DatasetError(f"{folder / f'{split}.jsonl'}:{k + 1}: video {row['video']!r} not found at {video}")
        row["observed_video"] = str(observed_clip(video, float(row["observed_until"]), cache, last_frames))
    return rows


def process_docs(dataset: Iterable[dict]):
    """lmms-eval ``process_docs``: the pointer row ``{"split": ...}`` becomes that split's docs."""
    import datasets

    pointers = list(dataset)
    if len(pointers) != 1 or set(pointers[0]) != {"split"}:
        raise DatasetError("moss_video's data_files must be its one-row pointer file ({\"split\": ...})")
    return datasets.Dataset.from_list(load_docs(pointers[0]["split"]))
