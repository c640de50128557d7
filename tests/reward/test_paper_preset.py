"""preset="paper" is the reward as it was before the default changed: every component of every score, on the
inputs and options frozen in fixtures/paper_scores.json (made with the original code; see
fixtures/make_paper_scores.py).

Exact values (answers, reasons, step counts, metrics that are ratios of counts, alignment paths) must be equal.
Floats may differ from the fixture by ``FLOAT_BOUND``: the fixture holds the bits of the CPU that made it, and
the ROUGE step similarity is a 3-term weighted mean computed by numpy's matmul, i.e. by the BLAS dot kernel
OpenBLAS picks for the CPU at load time (with or without FMA, in its own order), so each similarity may round
differently by an ulp on another machine; the distance sums them and T(D) goes through libm's exp. Measured here
with OpenBLAS's Haswell, Sandybridge, Nehalem and Prescott kernels (``OPENBLAS_CORETYPE``), and with the weighted
mean taken left to right, right to left, as an FMA chain and exactly rounded: no exact value, path or rounded
similarity changes and no float moves by more than 2 eps (relative to max(1, |value|)), so 16 eps leaves room.
The bit-for-bit check on one machine is ``fixtures/check_paper_scores.py``.
"""

import json
import math
import sys
from pathlib import Path

import pytest

from moss_plugins.evaluation.trace_metrics import PRESET_ENV, reference_metrics
from moss_plugins.reward import RewardConfig, compute_score, score_batch

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "paper_scores.json").read_text("utf-8"))
CASES = [(c["solution"], c["ground_truth"]) for c in FIXTURE["cases"]]

FLOAT_BOUND = 16 * sys.float_info.epsilon  # relative to max(1, |value|): scores and distances are O(1)
# The metrics' similarity matrix is rounded to 4 decimals: a value an ulp from a rounding midpoint may round
# either way, so its last digit may differ by one (1e-4, and half that again for the decimals' binary rounding).
ROUNDED_BOUND = 1.5e-4


def mismatches(have, want, where="", bound=FLOAT_BOUND) -> list[str]:
    """Where ``have`` differs from ``want``: floats beyond ``bound``, anything else at all."""
    if isinstance(want, float) and isinstance(have, (float, int)) and not isinstance(have, bool):
        close = math.isclose(have, want, rel_tol=bound, abs_tol=bound)
        return [] if close else [f"{where}: {have!r} != {want!r} (beyond {bound:.2g})"]
    if isinstance(want, dict) and isinstance(have, dict) and have.keys() == want.keys():
        bounds = {k: ROUNDED_BOUND if k == "similarity" else bound for k in want}
        return [m for k in want for m in mismatches(have[k], want[k], f"{where}.{k}", bounds[k])]
    if isinstance(want, list) and isinstance(have, list) and len(have) == len(want):
        pairs = enumerate(zip(have, want))
        return [m for k, (h, w) in pairs for m in mismatches(h, w, f"{where}[{k}]", bound)]
    return [] if have == want and type(have) is type(want) else [f"{where}: {have!r} != {want!r}"]


@pytest.mark.parametrize("k", range(len(FIXTURE["options"])), ids=lambda k: json.dumps(FIXTURE["options"][k]))
def test_paper_preset_reproduces_every_component(k):
    options = FIXTURE["options"][k]
    got = [compute_score("moss_video", s, t, preset="paper", **options) for s, t in CASES]
    wrong = mismatches(got, FIXTURE["scores"][k], "case")
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:3]}"


def test_paper_preset_in_a_batch():
    got = score_batch([s for s, _ in CASES], [json.dumps(t) for _, t in CASES], preset="paper", alpha=2.0)
    wrong = mismatches(got, FIXTURE["batch"], "case")
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:3]}"


def test_paper_preset_for_the_trace_metrics(monkeypatch):
    monkeypatch.setenv(PRESET_ENV, "paper")
    got = [reference_metrics(s, t) for s, t in CASES if t.get("options")]
    wrong = mismatches(json.loads(json.dumps(got)), FIXTURE["metrics"], "case")
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:3]}"


def test_the_fixture_comparison_tolerates_rounding_only():
    """The bound lets another CPU's rounding through and nothing else: a float off by more, an exact value
    that changed, a rounded similarity off by more than its last digit, a missing key all count."""
    want = FIXTURE["metrics"][25]
    assert mismatches(want, want) == []
    nudged = json.loads(json.dumps(want))
    nudged["metrics"]["trace_dtw"] += 2 * math.ulp(want["metrics"]["trace_dtw"])
    nudged["details"]["similarity"][0][1] = round(want["details"]["similarity"][0][1] + 1e-4, 4)
    assert mismatches(nudged, want) == []
    for path, value in [
        (("metrics", "trace_dtw"), want["metrics"]["trace_dtw"] + 1e-13),
        (("details", "path"), want["details"]["path"][:-1]),
        (("details", "pred_answer"), "C"),
        (("details", "reason"), "no_think"),
        (("details", "dtw_normalized"), True),
    ]:
        changed = json.loads(json.dumps(want))
        changed[path[0]][path[1]] = value
        assert mismatches(changed, want), path
    changed = json.loads(json.dumps(want))
    changed["details"]["similarity"][0][1] = round(want["details"]["similarity"][0][1] + 2e-4, 4)
    del changed["metrics"]["accuracy"]
    assert len(mismatches(changed, want)) == 2


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
