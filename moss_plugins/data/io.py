"""Reading and writing MOSS-Video files (JSONL, parquet), validating every row.

Loading never drops a row silently: a bad row stops the load with its file, line and field, or, with
``skip_invalid=True``, is skipped and counted by reason in the returned report. Writing is atomic
(:func:`moss_plugins.data.paths.atomic_path`): a file is the old one or the complete new one, never half.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..json_text import parse_json
from ..sample import Sample, ValidationError, from_row, to_row
from .paths import atomic_path


@dataclass
class LoadReport:
    samples: list[Sample]
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    first_errors: list[str] = field(default_factory=list)  # a few full messages, for the user

    def summary(self) -> str:
        if not self.skipped:
            return f"{len(self.samples)} samples"
        reasons = ", ".join(f"{n} x {r}" for r, n in self.skipped.most_common())
        return f"{len(self.samples)} samples; skipped {sum(self.skipped.values())} invalid ({reasons})"


def jsonl_rows(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(``file:line``, value) for each non-blank line of a JSONL file. A line that is not UTF-8 text or not JSON
    gives a located ValidationError as its value, so that each caller chooses to stop or to skip and count; a
    file that is not text at all (a video, an archive: NUL bytes in its first line) raises one at once."""
    path = Path(path)
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            if lineno == 1 and b"\0" in raw:
                raise ValidationError(
                    "not a JSONL file but binary data (a video? give the JSONL that lists it)",
                    where=str(path),
                )
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield (
                    where,
                    ValidationError(f"not UTF-8 text, got byte {raw[e.start]:#04x} at column {e.start + 1}"),
                )
                continue
            if not line.strip():
                continue
            try:
                yield where, parse_json(line)
            except ValueError as e:
                yield where, ValidationError(f"not valid JSON ({e})")


def strict_jsonl_rows(path: str | Path) -> Iterator[tuple[str, Any]]:
    """:func:`jsonl_rows` for callers that stop at the first unreadable line (its located ValidationError)."""
    for where, row in jsonl_rows(path):
        if isinstance(row, ValidationError):
            raise row.located(where)
        yield where, row


def _rows(path: Path) -> Iterator[tuple[str, object, str]]:
    """(location, raw row, form) triples; a row that is not even JSON yields a ValidationError as its value."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as e:  # pyarrow's errors for a file that is not parquet
            raise ValidationError(f"not a readable parquet file ({e})", where=str(path)) from None
        for k, row in enumerate(table.to_pylist()):
            yield f"{path}:row {k}", row, "parquet"
        return
    for where, row in jsonl_rows(path):
        yield where, row, "jsonl"


def iter_samples(path: str | Path) -> Iterator[Sample]:
    """Validated samples of one file; raises ValidationError at the first bad row."""
    for where, row, form in _rows(Path(path)):
        if isinstance(row, ValidationError):
            raise row.located(where)
        try:
            yield from_row(row, form)
        except ValidationError as e:
            raise e.located(where) from None


def load_samples(
    path: str | Path, skip_invalid: bool = False, check: Callable[[Sample, Path], None] | None = None
) -> LoadReport:
    """All samples of a JSONL or parquet file (``path``), or of every ``*.jsonl`` in a folder.

    ``check(sample, media_root)``, when given, runs on every valid sample; the ValidationError it raises is
    located and skipped or raised like a schema error (``moss data validate`` opens the videos this way)."""
    files = input_files(path)
    root = media_root(path)
    return validate_rows(
        (row for file in files for row in _rows(file)),
        skip_invalid,
        None if check is None else lambda sample: check(sample, root),
    )


def input_files(path: str | Path) -> list[Path]:
    """The files :func:`load_samples` reads for ``path``: the file itself, or a folder's ``*.jsonl`` and
    ``*.parquet``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such MOSS-Video file or folder")
    if not path.is_dir():
        return [path]  # named by the user: a pipe (``<(zcat rows.jsonl.gz)``) is read like a file
    files = sorted(path.glob("*.jsonl")) + sorted(path.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{path}: no *.jsonl or *.parquet files in this folder")
    for file in files:  # found by name: a FIFO or a device there would block the read or never end
        if not file.is_file():
            raise ValidationError(
                "not a regular file (a FIFO, a device or a folder named like a data file); "
                "move it out of the folder or give the files one by one",
                where=str(file),
            )
    return files


def validate_rows(
    rows: Iterable[tuple[str, object, str]],
    skip_invalid: bool = False,
    check: Callable[[Sample], None] | None = None,
) -> LoadReport:
    """Samples of (location, raw row, form) triples, as :func:`load_samples` reads them from files (``form``: how
    the row is encoded, :data:`moss_plugins.sample.JSON_TEXT_FIELDS`): each row validated
    (and ``check``-ed), ids unique across all of them; a bad row raises naming its location, or is skipped
    and counted."""
    report = LoadReport([])
    seen: dict[str, str] = {}
    for where, row, form in rows:
        try:
            if isinstance(row, ValidationError):
                raise row
            sample = from_row(row, form)
            if sample.id in seen:
                raise ValidationError(f"duplicate id {sample.id!r} (first at {seen[sample.id]})", "id")
            seen[sample.id] = where
            if check is not None:
                check(sample)
            report.samples.append(sample)
        except ValidationError as e:
            e = e.located(where)
            if not skip_invalid:
                raise e from None
            # by reason, not value
            report.skipped[f"{e.field or 'row'}: {e.message.split(', got ')[0][:80]}"] += 1
            if len(report.first_errors) < 5:
                report.first_errors.append(str(e))
    return report


def media_root(path: str | Path) -> Path:
    """The folder that the ``video`` paths of a MOSS-Video file (``path``), or of a folder of them, are relative
    to: the folder holding the file(s), absolute."""
    path = Path(path)
    return (path if path.is_dir() else path.parent).resolve()


def save_samples(samples: Iterable[Sample], path: str | Path) -> Path:
    """Write samples as JSONL (one compact object per line, keys in schema order) or parquet, by suffix."""
    path = Path(path)
    if path.suffix == ".parquet":
        return write_parquet([to_row(s, "parquet") for s in samples], path)
    return write_jsonl(map(to_row, samples), path)


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    """Rows as JSONL (one compact object per line, keys in their order), written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def write_parquet(rows: list[dict], path: str | Path) -> Path:
    """Rows as one parquet file, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
    return Path(path)
