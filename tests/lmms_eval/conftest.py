"""Shared fixtures for the lmms-eval tests: a private cache and a small lmms export."""

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
