import json
import subprocess
import sys

from reward_cases import render

MOSS = [sys.executable, "-m", "moss_plugins.cli"]


def test_demo_reward_stage_reports_every_example():
    out = subprocess.run(MOSS + ["demo", "--only", "reward"], capture_output=True, text=True, check=True,
                         env={"COLUMNS": "200", "PATH": ""})  # fmt: skip
    for label in ("faithful", "paraphrase", "padded", "repeated", "every option", "empty think", "faithful (zh)"):
        assert label in out.stdout


def test_score_command(tmp_path, truth, ref_steps):
    rows = [{"solution": render(ref_steps), "ground_truth": truth}, {"solution": "nonsense", "ground_truth": truth}]
    path = tmp_path / "rollouts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    out = subprocess.run(MOSS + ["score", str(path), "--set", "alpha=3", "--summary"], capture_output=True, text=True, check=True)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["acc"] for r in results] == [1.0, 0.0] and results[0]["score"] > results[1]["score"]
    assert "mean" in out.stderr


def test_score_command_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"solution": "x", "ground_truth": {"answer": "B", "trace": ["x"]}}\n{"solution": "x"}\n')
    out = subprocess.run(MOSS + ["score", str(path)], capture_output=True, text=True)
    assert out.returncode != 0 and f"{path}:2" in out.stderr


def test_plugins_command_lists_builtins():
    out = subprocess.run(MOSS + ["plugins"], capture_output=True, text=True, check=True, env={"COLUMNS": "120", "PATH": ""})
    assert "rouge" in out.stdout and "char3" in out.stdout
