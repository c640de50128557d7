"""Where MOSS-Video tools may read and write: row paths confined to their dataset folder, outputs that never
overlap their inputs, and writes that are all-or-nothing.

- A path read from a row (``video``, ``meta.states``, ...) is relative to the row's dataset folder and may not
  leave it (:func:`~moss_plugins.sample.relative_path`, :func:`confined`). The check is on the path as written: a symlink the data's
  owner placed inside the folder (an lmms export made with ``--symlink``, ``moss data build``'s linked videos) is
  followed, a ``..`` or an absolute path is refused.
- A command that writes a folder refuses one that is an input folder, lies inside one or holds one, compared
  after resolving symlinks (:func:`check_disjoint`): writing into the input is how inputs get overwritten.
- Every file is written under a temporary name beside its target and renamed onto it when complete
  (:func:`atomic_path`), so a target is either the old file or the whole new one. An interrupted write removes
  its temporary file; one killed outright leaves it behind, and the next run that writes into that folder removes
  it (:func:`remove_stale_temps`), recognising it by its name and its dead owner process.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..sample import relative_path

TEMP_MARK = ".moss-tmp"  # ".<name>.moss-tmp<pid>-<random><suffix>"
_TEMP_RE = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"(\d+)-[0-9a-f]{8}(\.[^.]*)?$")


class OverlapError(ValueError):
    """An output that is, lies inside or holds an input."""


def confined(root: str | Path, value: str, field: str) -> Path:
    """``root / value`` for a row's path ``value`` that may not leave ``root``; raises ValidationError naming
    ``field`` (:func:`~moss_plugins.sample.relative_path`)."""
    return Path(root) / relative_path(value, field)


def check_disjoint(inputs: Iterable[str | Path], out: str | Path, what: str = "--out") -> None:
    """Raise OverlapError unless ``out`` and each input folder are apart: not the same, neither inside the other
    (symlinks resolved)."""
    target = Path(out).resolve()
    for folder in dict.fromkeys(Path(p).resolve() for p in inputs):
        if target == folder or target.is_relative_to(folder) or folder.is_relative_to(target):
            how = "is" if target == folder else "lies inside" if target.is_relative_to(folder) else "holds"
            raise OverlapError(
                f"{what} {out} {how} the input folder {folder}: writing there could overwrite or delete the "
                "input; choose an output folder outside it"
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(folder: str | Path, also: re.Pattern | None = None) -> list[Path]:
    """Remove the temporary files that killed runs left in ``folder`` (not those of running processes); ``also``:
    another naming scheme (a regular expression whose group 1 is the owner's pid)."""
    folder, removed = Path(folder), []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        m = _TEMP_RE.match(path.name) or (also.search(path.name) if also else None)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            if (
                path.is_dir() and not path.is_symlink()
            ):  # a folder written whole, then renamed (``also`` only)
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target`` (same suffix, so writers that go by it still work) to write to; on
    success it is renamed onto ``target``, on any error (or Ctrl-C) it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
