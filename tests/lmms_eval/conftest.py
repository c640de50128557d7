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
    import torch
    from transformers import AutoConfig, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    from moss_plugins.verl.tiny import build

    path = build("qwen2_5_vl", tmp_path_factory.mktemp("tiny_qwen2_5_vl"))
    config = AutoConfig.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # Forward passes need the M-RoPE sections to cover half the head dimension (64 / 4 heads / 2 = 8).
    config.text_config.rope_parameters["mrope_section"] = [4, 2, 2]
    config.vision_end_token_id = tokenizer.convert_tokens_to_ids("<|vision_end|>")
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(path)
    return path
