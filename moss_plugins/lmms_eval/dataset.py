"""Where the ``moss_video`` tasks read MOSS-Video from, and the leak-free clips the model is shown.

The tasks read an lmms export (``moss data export --format lmms``: ``<split>.jsonl`` + ``videos/``) from the
folder named by the environment variable :data:`DATA_ENV` (``MOSS_VIDEO_LMMS_DIR``), by default an lmms
export of the mini split bundled with the package, written once into the cache
(:func:`~moss_plugins.env.cache_root`), so the task runs offline.

lmms-eval 0.7 fixes a task's data in its YAML: it has no flag for task arguments, does not expand variables
in ``data_files`` (only in ``cache_dir``), ``!function`` yields a callable and never a value, and
``process_docs`` is handed the rows without the file they came from, so it could not find their videos (paths
relative to the export folder). A folder chosen at run time therefore has to be read by the task's own code:
the YAML loads a one-row file naming the split (``{"split": "test"}``) and :func:`process_docs` turns it into
that split's docs from the folder above. The task stays an ordinary YAML task, which lmms-eval builds for chat
and for simple models alike. (Pointing ``data_files`` at a bundled copy instead would need a second, lmms-form
copy of the mini split in tasks/ and would still need this path for ``MOSS_VIDEO_LMMS_DIR``.)

Leak-free video: the visual of each doc (:func:`observed_video`, the task's ``doc_to_visual``) is a file holding
only the frames before ``observed_until``. lmms-eval backends are handed a path and read all of it
(``qwen2_5_vl`` via qwen-vl-utils, which with a ``video_end`` would still include the frame at the cut; ``vllm``
and ``openai`` decode the file or pass its URL to a server), so the cut must be physical. A video already cut
(no frame at or after ``observed_until``, checked on packet timestamps without decoding) is used as it is; others
are cut when a request first needs them (so ``--limit`` limits the work), once, into the clip cache:

- by copying the compressed packets when that gives exactly the frames before the cut, else by re-encoding at
  most at ``$MOSS_VIDEO_CLIP_MAX_PIXELS`` per frame (:func:`moss_plugins.data.clips.cut_observed`), with a
  progress bar;
- the cache (``<cache_root>/clips``) holds at most ``$MOSS_VIDEO_CLIP_CACHE_GB`` of clips, the least recently
  used removed first; each clip is written under a temporary name and renamed when complete, and the temporary
  files of killed runs are removed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..data.paths import confined, remove_stale_temps
from ..env import CACHE_ENV, cache_folder, env_number
from ..sample import ValidationError
from .rows import LMMS_JSON_FIELDS, sample_from_lmms_row

DATA_ENV = "MOSS_VIDEO_LMMS_DIR"
CLIP_CACHE_ENV = "MOSS_VIDEO_CLIP_CACHE_GB"  # clips kept at most (GB); least recently used are removed first
DEFAULT_CLIP_CACHE_GB = 20.0
# re-encoded clip frames at most this many pixels (0: source size)
CLIP_PIXELS_ENV = "MOSS_VIDEO_CLIP_MAX_PIXELS"
# qwen-vl-utils' default cap on a video frame (768 tokens of 28x28 pixels)
DEFAULT_CLIP_PIXELS = 768 * 28 * 28
_OLD_TEMP = re.compile(r"\.tmp(\d+)\.mp4$")  # what versions before atomic_path left behind when killed
_OLD_TEMP_DIR = re.compile(r"\.tmp(\d+)$")  # an export of the bundled split being written (default_data_dir)
ROW_FIELDS = ("id", "video", "question", "options", "answer", "task_type", "observed_until", "trace", "split")


class DatasetError(ValueError):
    """The lmms export is missing or malformed; the message names the file (and line) and what to do."""


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def default_data_dir() -> Path:
    """An lmms export of the bundled mini split, written into the cache on first use."""
    from ..data import mini_split_dir
    from . import rows

    mini = mini_split_dir()
    try:
        target = cache_folder("lmms") / f"mini-{_tree_digest(mini)}"
        if not (target / "test.jsonl").exists():
            remove_stale_temps(target.parent, also=_OLD_TEMP_DIR)
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            rows.export_lmms(mini, tmp, link=True)  # symlinks: the videos stay in the package
            try:
                tmp.rename(target)
            except OSError:  # another process (an lmms-eval rank) won the race; its export is identical
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise DatasetError(
            f"the bundled mini split cannot be exported into the cache: {e} (set {CACHE_ENV} to a "
            f"writable folder, or {DATA_ENV} to an export)"
        ) from None
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
    """The rows of ``<folder>/<split>.jsonl``, each checked as a MOSS-Video sample: a bad row stops the load with
    one line naming file, line and field (lmms-eval would otherwise fail later, inside ``process_results``,
    under its retries)."""
    return [row for _, row in _located_rows(folder, split)]


def _located_rows(folder: Path, split: str) -> list[tuple[str, dict]]:
    """("file:line", row) of each non-blank line of ``<folder>/<split>.jsonl``, validated."""
    path = folder / f"{split}.jsonl"
    if not path.exists():
        have = sorted(p.stem for p in folder.glob("*.jsonl"))
        raise DatasetError(f"{path}: no {split!r} split in this lmms export (it has {have})")
    from ..data.io import strict_jsonl_rows

    try:  # not UTF-8, not JSON, a binary file: a ValidationError naming the line
        rows = [(where, _row(row, where)) for where, row in strict_jsonl_rows(path)]
    except ValidationError as e:
        raise DatasetError(str(e)) from None
    if not rows:
        raise DatasetError(f"{path}: the split is empty")
    return rows


def _row(row: object, where: str) -> dict:
    """One parsed row of an lmms export, validated; raises DatasetError naming ``where``."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: a row must be a JSON object, got {type(row).__name__}")
    missing = [k for k in ROW_FIELDS if k not in row]
    if missing:
        raise DatasetError(
            f"{where}: missing field(s) {missing}; re-export with `moss data export --format lmms`"
        )
    for key in LMMS_JSON_FIELDS:  # JSON strings in the export (free-form nested objects)
        if key in row and not isinstance(row[key], str):
            row[key] = json.dumps(row[key], ensure_ascii=False)
    try:
        sample_from_lmms_row(row)
    except ValidationError as e:
        raise DatasetError(f"{where}: {e}") from None
    return row


@functools.lru_cache(maxsize=4096)
def _last_frame(path: str, size: int, mtime_ns: int) -> float:
    """Timestamp of the last frame of one version of a file, from packet timestamps (no decoding), on the same
    clock as :func:`moss_plugins.data.clips.cut_clips` (the stream's own presentation times); the docs of a
    split share videos, and the frame tables' own cache is smaller than a split."""
    from ..data.video import frame_table

    return float(frame_table(path).times[-1])


def clip_settings() -> tuple[int | None, int]:
    """(max pixels per clip frame or None for the source size, cache bound in bytes), from the environment."""
    pixels = int(env_number(CLIP_PIXELS_ENV, DEFAULT_CLIP_PIXELS, DatasetError))
    return pixels or None, int(env_number(CLIP_CACHE_ENV, DEFAULT_CLIP_CACHE_GB, DatasetError) * 1e9)


def observed_clip(
    video: Path, until: float, cache: Path, max_pixels: int | None = None, max_bytes: int | None = None
) -> Path:
    """``video`` itself when it has no frame at or after ``until``, else a clip of it cut there, made once and
    kept in ``cache`` (at most ``max_bytes`` of clips: the least recently used go first)."""
    st = video.stat()
    if _last_frame(str(video), st.st_size, st.st_mtime_ns) < until:
        return video
    key = f"{video.resolve()}:{st.st_size}:{st.st_mtime_ns}:{until!r}:{max_pixels}"
    clip = cache / f"{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.mp4"
    if clip.exists():
        with contextlib.suppress(FileNotFoundError):
            os.utime(clip)  # recently used: evicted last
        return clip
    from ..data.clips import cut_observed

    cache.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(cache, also=_OLD_TEMP)
    cut_observed(video, until, clip, max_pixels=max_pixels, progress=True)
    if max_bytes is not None:
        evict(cache, max_bytes, keep=clip)
    return clip


def evict(cache: Path, max_bytes: int, keep: Path) -> list[Path]:
    """Remove the least recently used clips of ``cache`` (by modification time, which each use refreshes) until
    the rest fit in ``max_bytes``; ``keep`` (the clip just made) stays."""
    clips = []
    for path in cache.glob("*.mp4"):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            clips.append((st.st_mtime_ns, st.st_size, path))
    total, removed = sum(size for _, size, _ in clips), []
    for _, size, path in sorted(clips):
        if total <= max_bytes:
            break
        if path == keep or path.name.startswith("."):  # a temporary file of a cut in progress
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
        total -= size
    return removed


def observed_video(doc: dict) -> str:
    """The path of a doc's clip (frames before ``observed_until`` only), cut when first asked for: lmms-eval calls
    ``doc_to_visual`` per request, so ``--limit`` limits the cutting too."""
    from ..data.clips import ClipError

    max_pixels, max_bytes = clip_settings()
    try:
        return str(
            observed_clip(
                Path(doc["video_path"]),
                float(doc["observed_until"]),
                cache_folder("clips"),
                max_pixels,
                max_bytes,
            )
        )
    except (ClipError, OSError) as e:
        raise reported(
            DatasetError(
                f"moss_video doc {doc.get('id')!r}: cannot cut its clip at {doc['observed_until']} s: {e}"
            )
        ) from None


_REPORTED: set[str] = set()


def reported(error: Exception) -> Exception:
    """``error``, logged first (once per message) as one ERROR line of lmms-eval's log. lmms-eval retries the
    hook that raised it (``download``, ``process_results``: 5 tries), then logs only "Error during evaluation:
    RetryError[...]" and exits 0, so without this line the message sits in the middle of a chained traceback."""
    if str(error) not in _REPORTED:
        from loguru import logger

        _REPORTED.add(str(error))
        logger.error(
            f"{error} (lmms-eval retries this, then exits 0 with this task missing from the results)"
        )
    return error


def load_docs(split: str, folder: Path | None = None) -> list[dict]:
    """The docs of one split: the export's rows plus ``video_path``, the absolute path of the video (its clip is
    cut lazily, by :func:`observed_video`)."""
    from ..data.video_check import check_video

    folder = folder or data_dir()
    located = _located_rows(folder, split)
    clip_settings()  # a bad setting fails now, not at the first request
    rows = []
    for where, row in located:
        rows.append(row)
        video = confined(folder, row["video"], "video").resolve()  # the row's paths were checked by _row
        if not video.is_file():
            raise DatasetError(f"{where}: video {row['video']!r} not found at {video}")
        try:  # the check `moss data validate` runs: a bad file stops the task here, not in a model's reader
            check_video(video, row["observed_until"])
        except ValidationError as e:
            raise DatasetError(f"{where}: {e} (fix the row or the video, then re-export)") from None
        # its last frame, while check_video's frame table is still cached (observed_clip asks)
        st = video.stat()
        _last_frame(str(video), st.st_size, st.st_mtime_ns)
        row["video_path"] = str(video)
    return rows


def process_docs(dataset: Iterable[dict]):
    """lmms-eval ``process_docs``: the pointer row ``{"split": ...}`` becomes that split's docs."""
    import datasets

    pointers = list(dataset)
    if len(pointers) != 1 or set(pointers[0]) != {"split"}:
        raise reported(
            DatasetError('moss_video\'s data_files must be its one-row pointer file ({"split": ...})')
        )
    try:
        return datasets.Dataset.from_list(load_docs(pointers[0]["split"]))
    except DatasetError as e:
        raise reported(e) from None
