"""preset="paper" is the reward as it was before the default changed: every component of every score, bit for
bit, on the inputs and options frozen in fixtures/paper_scores.json (made with the original code; see
fixtures/make_paper_scores.py)."""

import json
from pathlib import Path

import pytest

from moss_plugins.reward import RewardConfig, compute_score, score_batch
from moss_plugins.evaluation.trace_metrics import PRESET_ENV, reference_metrics

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "paper_scores.json").read_text("utf-8"))
CASES = [(c["solution"], c["ground_truth"]) for c in FIXTURE["cases"]]


@pytest.mark.parametrize("k", range(len(FIXTURE["options"])), ids=lambda k: json.dumps(FIXTURE["options"][k]))
def test_paper_preset_reproduces_every_component(k):
    options = FIXTURE["options"][k]
    got = [compute_score("moss_video", s, t, preset="paper", **options) for s, t in CASES]
    for (solution, _), want, have in zip(CASES, FIXTURE["scores"][k], got):
        assert have == want, solution[:120]  # exact: floats compared bit for bit


def test_paper_preset_in_a_batch():
    got = score_batch([s for s, _ in CASES], [json.dumps(t) for _, t in CASES], preset="paper", alpha=2.0)
    assert got == FIXTURE["batch"]


def test_paper_preset_for_the_trace_metrics(monkeypatch):
    monkeypatch.setenv(PRESET_ENV, "paper")
    got = [reference_metrics(s, t) for s, t in CASES if t.get("options")]
    assert json.loads(json.dumps(got)) == FIXTURE["metrics"]


def test_the_presets_differ_only_in_what_they_set():
    paper, default = RewardConfig(preset="paper"), RewardConfig()
    assert (paper.similarity, paper.alignment, paper.max_jump) == ("rouge", "dtw", 2)
    assert default.similarity == "facts" and default.alignment == "monotone"
    assert RewardConfig(preset="paper", similarity="char3").similarity == "char3"  # an explicit option wins
    assert RewardConfig.from_kwargs(preset="paper", alpha=2) == RewardConfig(preset="paper", alpha=2.0)


def test_an_unknown_preset_is_an_error():
    from moss_plugins.reward import ConfigError

    with pytest.raises(ConfigError, match="preset=.*must be one of"):
        compute_score(None, "x", {"answer": "A", "trace": ["a"]}, preset="papr")
