"""Extension hooks: a separately installed distribution adds a segmenter, a similarity and a reward term."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.reward import ConfigError, compute_score, registry

EXAMPLE = Path(__file__).parents[2] / "examples" / "moss-embedding-plugin"

# Runs in a fresh interpreter that sees the installed example; builds a tiny random sentence-transformers model
# first (a 1-layer BERT with mean pooling: enough to exercise the plumbing offline, in one heavy import).
CHECK = """
import json, os, pathlib
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from transformers import BertConfig, BertModel, BertTokenizerFast

root = pathlib.Path(os.environ["MOSS_EMBEDDING_MODEL"]).parent
bert = root / "bert"
bert.mkdir(parents=True)
words = "the lamp is green then turns yellow maybe perhaps cup moves".split()
(bert / "vocab.txt").write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *words]))
BertTokenizerFast(vocab_file=str(bert / "vocab.txt")).save_pretrained(bert)
config = BertConfig(vocab_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
BertModel(config).save_pretrained(bert)
SentenceTransformer(modules=[Transformer(str(bert)), Pooling(32, "mean")], device="cpu").save(
    os.environ["MOSS_EMBEDDING_MODEL"])

from moss_plugins.reward import compute_score, registry
truth = {"answer": "B", "trace": ["the lamp is green.", "then the lamp turns yellow."]}
faithful = "<think>The lamp is green. Then the lamp turns yellow.</think><answer>B</answer>"
hedged = "<think>Maybe the lamp is green. Perhaps the cup moves.</think><answer>B</answer>"
options = dict(segmenter="sentences", similarity="embedding", extra_terms={"hedging": -0.5})
print(json.dumps({"available": {h: registry.available(h) for h in
                  ("moss_segmenters", "moss_similarities", "moss_reward_terms")},
                  "faithful": compute_score(None, faithful, truth, **options),
                  "hedged": compute_score(None, hedged, truth, **options)}))
"""


@pytest.mark.slow
def test_installed_distribution_is_discovered_and_used(tmp_path):
    """pip-installs examples/moss-embedding-plugin (a real distribution) and uses all three of its hooks."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True)  # fmt: skip
    path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "MOSS_EMBEDDING_MODEL": str(tmp_path / "model" / "st")}
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[-1])
    assert report["available"]["moss_segmenters"] == {"default": "builtin", "sentences": "embedding"}
    assert report["available"]["moss_similarities"] == {"char3": "builtin", "embedding": "embedding", "facts": "builtin",
                                                        "rouge": "builtin"}
    assert report["available"]["moss_reward_terms"] == {"hedging": "embedding"}
    faithful, hedged = report["faithful"], report["hedged"]
    assert faithful["n_pred_steps"] == 2 and faithful["process"] == pytest.approx(1.0, abs=1e-5)  # same tokens: cosine 1
    assert faithful["hedging"] == 0.0 and hedged["hedging"] == 1.0
    assert hedged["process"] < faithful["process"]
    assert faithful["score"] - hedged["score"] == pytest.approx(0.5 * (faithful["process"] - hedged["process"]) + 0.5)


def test_not_installed_means_not_available():
    assert "exact" not in registry.available("moss_similarities")
    with pytest.raises(ConfigError, match="unknown similarity 'exact'; installed: char3, facts, rouge"):
        compute_score(None, "x", {"answer": "B", "trace": ["x"]}, similarity="exact")


def test_builtin_char_trigram_alternative_sees_inflections():
    truth = {"answer": "B", "trace": ["the door opens slowly"]}
    out = "<think>the door opened slowly</think><answer>B</answer>"
    rouge = compute_score(None, out, truth, preset="paper")["process"]
    char3 = compute_score(None, out, truth, preset="paper", similarity="char3")["process"]
    assert 0 < rouge < char3 < 1
    assert compute_score(None, "<think>the door opens slowly</think><answer>B</answer>", truth, similarity="char3")["process"] == pytest.approx(1.0)


def test_contract_violations_are_loud(monkeypatch):
    class BrokenShape:
        @staticmethod
        def moss_similarities():
            return {"broken": lambda pred, ref: np.zeros((1, 1))}

    from moss_plugins.reward import hookimpl

    plugin = type("P", (), {"moss_similarities": hookimpl(BrokenShape.moss_similarities)})
    registry.plugin_manager().register(plugin, name="broken-plugin")
    registry.similarity.cache_clear()
    try:
        r = compute_score(None, "<think>a\nb</think><answer>B</answer>", {"answer": "B", "trace": ["a", "b"]}, similarity="broken")
        assert r["reason"] == "error:PluginError"  # contained in the training loop, but visible
        dup = type("D", (), {"moss_similarities": hookimpl(lambda: {"rouge": None})})
        registry.plugin_manager().register(dup, name="dup-plugin")
        with pytest.raises(registry.PluginError, match="'rouge' is provided by both"):
            registry.available("moss_similarities")
        registry.plugin_manager().unregister(name="dup-plugin")
    finally:
        registry.plugin_manager().unregister(name="broken-plugin")
        registry.similarity.cache_clear()


def test_plugin_that_fails_to_import_names_its_distribution(tmp_path):
    dist = tmp_path / "moss_bad-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: moss-bad\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[moss_plugins]\nbad = moss_bad_plugin_missing_module\n")
    code = "from moss_plugins.reward import compute_score; compute_score(None, 'x', {'answer': 'B', 'trace': ['x']})"
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path), "PATH": ""},
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode != 0
    assert "plugin 'bad'" in out.stderr and "'moss-bad' failed to load" in out.stderr
