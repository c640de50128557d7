import json

from reward_cases import render

from moss_plugins.cli import main


def test_demo_reward_stage_reports_every_example(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich sizes its tables from it
    assert main(["demo", "--only", "reward"]) == 0
    out = capsys.readouterr()
    for label in (
        "faithful",
        "paraphrase",
        "padded",
        "repeated",
        "every option",
        "empty think",
        "faithful (zh)",
    ):
        assert label in out.out


def test_score_command(tmp_path, truth, ref_steps, capsys):
    rows = [
        {"solution": render(ref_steps), "ground_truth": truth},
        {"solution": "nonsense", "ground_truth": truth},
    ]
    path = tmp_path / "rollouts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["score", str(path), "--set", "alpha=3", "--summary"]) == 0
    out = capsys.readouterr()
    results = [json.loads(line) for line in out.out.splitlines()]
    assert [r["acc"] for r in results] == [1.0, 0.0] and results[0]["score"] > results[1]["score"]
    assert "mean" in out.err


def test_score_command_names_the_bad_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"solution": "x", "ground_truth": {"answer": "B", "trace": ["x"]}}\n{"solution": "x"}\n')
    assert main(["score", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"moss: error: {path}:2: expected a JSON object")


def test_plugins_command_lists_builtins(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "rouge" in out and "char3" in out
