"""MOSS-Video tooling: loading and saving samples, validation, the synthetic set, the builder, video loading
(framework-free). The sample itself is :mod:`moss_plugins.sample`, re-exported here."""

from importlib import resources
from pathlib import Path

from ..sample import SPLITS, TASK_TYPES, Sample, TraceStep, ValidationError
from .io import LoadReport, iter_samples, load_samples, save_samples


def mini_split_dir() -> Path:
    """The small MOSS-Video split bundled with the package (``train.jsonl``, ``test.jsonl``, ``videos/``)."""
    return Path(str(resources.files(__package__).joinpath("mini")))


__all__ = [
    "SPLITS",
    "TASK_TYPES",
    "LoadReport",
    "Sample",
    "TraceStep",
    "ValidationError",
    "iter_samples",
    "load_samples",
    "mini_split_dir",
    "save_samples",
]
