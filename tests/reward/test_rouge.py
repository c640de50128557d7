"""ROUGE F1 equals Google's rouge-score on ASCII text, and goes beyond it on CJK as documented."""

import random

import numpy as np
import pytest
from rouge_score.rouge_scorer import RougeScorer

from moss_plugins.reward import rouge as rouge_module
from moss_plugins.reward import rouge_f, similarity_matrix, tokenize

WORDS = [
    "the",
    "a",
    "ball",
    "Red",
    "LIGHT",
    "moves",
    "left",
    "box",
    "2",
    "3.5",
    "it's",
    "-",
    "e.g.",
    "(cup)",
    "blue,",
    "x_y",
    "10%",
    "A",
    "is",
    "then",
    "don't",
    "cat!",
    "...",
    "  ",
]


def _text(rng, max_words):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, max_words)))


@pytest.fixture(scope="module")
def scorer():
    return RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


@pytest.mark.parametrize("max_words", [12, 40, 90])  # 90 words crosses the 64-token bit-parallel LCS limit
def test_equals_rouge_score_on_random_pairs(scorer, max_words):
    rng = random.Random(max_words)
    refs = [_text(rng, max_words) for _ in range(20)]
    preds = [_text(rng, max_words) for _ in range(40)]  # 20 x 40 = 800 pairs per length class
    f1s = rouge_module.RougeIndex.build(refs).f1s(preds)
    for i, ref in enumerate(refs):
        for j, pred in enumerate(preds):
            s = scorer.score(target=ref, prediction=pred)
            expected = [s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeL"].fmeasure]
            np.testing.assert_allclose(f1s[i, j], expected, rtol=0, atol=1e-9, err_msg=f"{ref!r} vs {pred!r}")


def test_rouge_f_matches_single_pair(scorer):
    a, b = "The cat sat on the mat today", "the cat was on a mat"
    s = scorer.score(target=b, prediction=a)
    assert rouge_f(a, b) == pytest.approx(
        (s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeL"].fmeasure), abs=1e-12
    )


def test_tokenizer_matches_rouge_score_on_ascii():
    from rouge_score.tokenize import tokenize as google_tokenize

    rng = random.Random(0)
    for _ in range(300):
        text = "".join(chr(rng.randint(1, 127)) for _ in range(rng.randint(0, 60)))
        assert tokenize(text) == google_tokenize(text, None)


def test_cjk_characters_are_tokens_unlike_rouge_score(scorer):
    assert tokenize("水位上升 to 50%") == ["水", "位", "上", "升", "to", "50"]
    assert tokenize("café Straße") == ["café", "straße"]  # non-ASCII letters stay inside words
    assert scorer.score("杯子满了", "杯子满了")["rouge1"].fmeasure == 0.0  # rouge-score drops CJK
    assert rouge_f("杯子满了", "杯子满了") == (1.0, 1.0, 1.0)
    r1, r2, _ = rouge_f("杯子满了", "杯子空了")
    assert r1 == pytest.approx(0.75) and r2 == pytest.approx(1 / 3)


def test_similarity_matrix_shape_range_and_weights():
    refs = ["the light is red", "the cup is full of water", "nothing"]
    preds = ["a red light", "the cup is full", "water", "zzz"]
    sim = similarity_matrix(refs, preds)
    assert sim.shape == (3, 4)
    assert np.all((sim >= 0) & (sim <= 1))
    assert sim[2, 3] == 0 and similarity_matrix(["x y"], ["x y"])[0, 0] == pytest.approx(1.0)
    only_r1 = similarity_matrix(refs, preds, weights=(1, 0, 0))
    np.testing.assert_allclose(only_r1[1, 1], rouge_f(preds[1], refs[1])[0])
    np.testing.assert_allclose(
        sim,
        (
            similarity_matrix(refs, preds, (1, 0, 0))
            + similarity_matrix(refs, preds, (0, 1, 0))
            + similarity_matrix(refs, preds, (0, 0, 1))
        )
        / 3,
    )
    with pytest.raises(ValueError, match="rouge_weights"):
        similarity_matrix(refs, preds, weights=(0, 0, 0))


def test_each_step_is_tokenized_once(monkeypatch):
    calls = []
    real = rouge_module.tokenize_steps
    monkeypatch.setattr(rouge_module, "tokenize_steps", lambda steps: calls.append(len(steps)) or real(steps))
    similarity_matrix(["a", "b c", "d e", "f"], ["a b", "c d", "e"])
    assert calls == [4, 3]  # one pass over the reference steps, one over the predicted steps
