"""`run.sh --smoke` for both recipes: verl's real GRPO trainer on the CPU, and what the run shows it did.

One run per recipe (module fixture, the real launcher and interpreter); the tests read its console log, the
rollout server's weight log and the validation dumps.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_plugins.verl.smoke import step_metrics

RECIPES = Path(__file__).parents[2] / "recipes"
FAMILIES = {"qwen2_5_vl_7b_moss_dtw": "qwen2_5_vl", "phi2_moss_dtw": "phi2"}
COMPONENTS = ("acc", "format", "process", "padding", "score")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=list(FAMILIES))
def smoke(request, tmp_path_factory):
    recipe = request.param
    out = tmp_path_factory.mktemp(f"smoke-{recipe}")
    env = {**os.environ, "PYTHON": sys.executable}
    run = subprocess.run(
        [RECIPES / recipe / "run.sh", "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(line) for line in (out / "rollout.jsonl").read_text().splitlines()]
    return {
        "recipe": recipe,
        "out": out,
        "stdout": run.stdout,
        "summary": summary,
        "events": events,
        "steps": step_metrics((out / "train.log").read_text()),
    }


def test_two_grpo_steps_ran_and_report_the_reward_and_its_components(smoke):
    steps = smoke["steps"]
    assert sorted(steps) == [1, 2] and smoke["summary"]["exit_code"] == 0
    for metrics in steps.values():
        float(metrics["critic/score/mean"])  # verl's own reward metric
        for key in COMPONENTS:
            float(metrics[f"reward/{key}/mean"])
        shares = [float(metrics[f"reward/groups/{k}"]) for k in ("all_correct", "all_wrong")]
        assert all(0 <= s <= 1 for s in shares) and sum(shares) <= 1
        assert float(metrics["actor/pg_loss"]) == float(metrics["actor/pg_loss"])  # the update ran (not NaN)
    assert "reward/acc/mean" in smoke["stdout"]  # on the console, in the step:N lines


def test_validation_logs_every_reward_component(smoke):
    validation = smoke["steps"][2]
    dumps = sorted((smoke["out"] / "val").glob("*.jsonl"))
    rows = [json.loads(line) for line in dumps[-1].read_text().splitlines()]
    numeric = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k not in ("score", "step")]
    assert set(COMPONENTS) - {"score"} <= set(numeric)
    for key in numeric:
        assert any(m.startswith("val-") and f"/{key}/mean@" in m for m in validation), key


def test_the_policy_changed_and_the_rollout_generated_with_the_synced_weights(smoke):
    events = smoke["events"]
    loads = [e for e in events if e["event"] == "load"]
    # One sync at start-up, one after each step; every sync brings new weights.
    assert [e["global_steps"] for e in loads] == [0, 1, 2]
    assert len({e["weights"] for e in loads}) == 3
    per_step = {}
    for e in events:
        if e["event"] == "generate":
            per_step.setdefault(e["global_steps"], set()).add(e["weights"])
    # Step 1 rolls out with the start-up weights, step 2 with the weights after step 1's update, and the
    # validation after step 2 with the weights after step 2's update.
    assert per_step == {n: {loads[n]["weights"]} for n in (0, 1, 2)}


def test_memory_and_time_are_reported(smoke):
    summary = smoke["summary"]
    assert len(summary["step_s"]) == 2 and all(t > 0 for t in summary["step_s"])
    assert 0 < summary["peak_pss_gb"] <= summary["peak_rss_gb"]


def test_the_dumped_validation_outputs_rescore_to_the_trainers_scores(smoke):
    # The score verl logged is the reward core's score of the text the rollout produced, under the recipe's
    # reward options (the recipes set preset=paper).
    from omegaconf import OmegaConf

    from moss_plugins.reward import compute_score

    options = OmegaConf.to_container(
        OmegaConf.load(RECIPES / smoke["recipe"] / "config.yaml").reward.moss_dtw
    )
    assert options == {"preset": "paper"}
    (dump,) = (smoke["out"] / "val").glob("*.jsonl")
    rows = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(rows) == 4
    for row in rows:
        again = compute_score("moss_video", row["output"], row["gts"], **options)
        assert again["score"] == pytest.approx(row["score"], abs=1e-6)
        assert {k: again[k] for k in ("acc", "format")} == {k: row[k] for k in ("acc", "format")}
