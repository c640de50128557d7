"""Shared fixtures for the lmms-eval tests: a small lmms export and a tiny random Qwen2.5-VL."""

from __future__ import annotations

from pathlib import Path

import pytest
from lmms_fixtures import write_export


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Clips, the default export and the judge cache go to a per-session folder, never to ~/.cache."""
    monkeypatch.setenv("MOSS_PLUGINS_CACHE", str(tmp_path_factory.getbasetemp() / "moss-cache"))


@pytest.fixture(scope="session")
def lmms_export(tmp_path_factory) -> Path:
    return write_export(tmp_path_factory.mktemp("lmms_export"))


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Qwen2.5-VL (hidden size 64) saved like a hub checkpoint."""
    from moss_plugins.testing.tiny_models import build

    return build("qwen2_5_vl", tmp_path_factory.mktemp("tiny_qwen2_5_vl"), weights=True)
