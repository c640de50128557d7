"""MOSS-Video: the sample format, loading and validation (framework-free)."""

from importlib import resources
from pathlib import Path

from .io import LoadReport, iter_samples, load_samples, save_samples
from ..sample import SPLITS, TASK_TYPES, Sample, TraceStep, ValidationError


def mini_split_dir() -> Path:
    """The small MOSS-Video split bundled with the package (``train.jsonl``, ``test.jsonl``, ``videos/``)."""
    return Path(str(resources.files(__package__).joinpath("mini")))


__all__ = [
    "SPLITS", "TASK_TYPES", "LoadReport", "Sample", "TraceStep", "ValidationError", "iter_samples",
    "load_samples", "mini_split_dir", "save_samples",
]  # fmt: skip
