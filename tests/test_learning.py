"""benchmarks/learning.py: the small Phi it trains, and ``--tiny``, every stage of the experiment at toy size."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_plugins.data import load_samples, mini_split_dir
from moss_plugins.data.captions import text_prompt
from moss_plugins.output_format import LETTERS, answer_blocks, format_response, split_prompt
from moss_plugins.testing.tiny_models import phi

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "learning.py"
TEMPLATE = "{% for m in messages %}Instruct: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}Output:{% endif %}"


def test_the_small_phi_loads_with_its_word_tokenizer_and_chat_format(tmp_path):
    samples = load_samples(mini_split_dir()).samples
    lines = [
        t
        for s in samples
        for t in (text_prompt(s, mini_split_dir()), format_response([x.text for x in s.trace], s.answer))
    ]
    path = phi(tmp_path, lines, vocab_size=600, layers=1, hidden=64, chat_template=TEMPLATE)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        path
    )  # as verl loads it: not re-split into words by a model class
    text = lines[1]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text

    def tokens(text):
        return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert all(
        set(t) <= set("0123456789.") for t in tokens("at 7.5 s") if any(c.isdigit() for c in t)
    )  # numbers stand alone
    # a value is the same token wherever it stands, so a small model can learn to copy it into its answer
    red = tokenizer.convert_ids_to_tokens(tokenizer(" red", add_special_tokens=False)["input_ids"])
    for context in ("[0-1.5 s] light: red\n", "A. red\n", "the red lamp is lit", "so red comes next."):
        assert "".join(red) in tokens(context), context
    assert "B" in tokens("<answer>B</answer>") and "B" in tokens("B. green")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt == "Instruct: hi\nOutput:" and tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
    model = AutoModelForCausalLM.from_pretrained(path)
    assert type(model).__name__ == "PhiForCausalLM" and model.config.vocab_size == len(tokenizer)


def test_binding_pairs_name_the_answer_by_its_letter_in_every_phase_and_order():
    sys.path.insert(0, str(SCRIPT.parent))
    from learning import BIND_PHASES, binding_pair

    root = mini_split_dir()
    for sample in load_samples(root).samples:
        for phase in BIND_PHASES:
            for k in range(4):
                prompt, response = binding_pair(phase, sample, root, k)
                (letter,) = answer_blocks(response)
                _, options = split_prompt(prompt)
                assert options[LETTERS.index(letter)] == sample.answer_text, (phase, k, sample.id)
        assert binding_pair("named", sample, root, 0) == (
            "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(sample.options))
            + f"\nWhich option says: {sample.answer_text}?",
            f"<answer>{sample.answer}</answer>",
        )  # k = 0 keeps the sample's own order
        assert binding_pair("conclusion", sample, root, 0)[1] == format_response(
            [sample.trace[-1].text], sample.answer
        )  # the trace's conclusion alone
        assert binding_pair("full", sample, root, 5) == (
            text_prompt(sample, root),
            format_response([x.text for x in sample.trace], sample.answer),
        )  # the real prompt is never shuffled
        # shuffles move the answer's letter: 16 orders all putting it in one place has p = 4^-15
        assert len({answer_blocks(binding_pair("named", sample, root, k)[1])[0] for k in range(1, 17)}) > 1


def learning(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_tiny_runs_every_stage_and_writes_the_results(tmp_path):
    results = tmp_path / "results"
    run = learning("--out", str(tmp_path), "--results", str(results))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for name in ("metrics.csv", "curves.png", "summary.json", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert set(timings) == {"data", "model", "sft", "sft_eval", "bind", "bind_eval", "grpo", "report"}
    sft = json.loads((tmp_path / "sft" / "train.json").read_text())
    assert sft["steps"] > 0 and sft["examples"] > 0
    bind = json.loads((tmp_path / "bind" / "train.json").read_text())
    assert list(bind) == ["named", "conclusion", "full"] and [p["anchored"] for p in bind.values()] == [
        False,
        False,
        True,
    ]
    assert all(p["steps"] > 0 and 0 <= p["heldout_letter_accuracy"]["after"] <= 1 for p in bind.values())
    # The last phase ends at its first check that reaches the target (0 in --tiny: the first), before its cap of 3
    assert bind["full"]["steps"] == 1 and list(bind["full"]["rl_letter_accuracy"]) == ["1"]
    assert "rl_letter_accuracy" not in bind["named"]
    assert (tmp_path / "bind" / "eval.json").exists()  # the GRPO start, evaluated
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3]  # 3 GRPO steps and the evaluation before them
    assert all(r["reward/score/mean"] for r in rows[1:])  # every step reported its reward
    assert rows[0]["heldout/accuracy"] and rows[-1]["heldout/accuracy"]  # evaluated before and after
    summary = json.loads((tmp_path / "summary.json").read_text())
    (run_summary,) = summary["runs"].values()
    assert (run_summary["start_step"], run_summary["final_step"]) == (0, 3)
    rollouts = sorted(p.name for p in tmp_path.glob("grpo/*/rollouts/*.jsonl"))
    assert rollouts == ["1.jsonl", "2.jsonl", "3.jsonl"]  # what the policy wrote each step, kept

    # --results: what another machine needs to continue the sweep, without the data, SFT or checkpoints
    assert (results / "start" / "model.safetensors").exists() and (
        results / "runs" / "default-s0.json"
    ).exists()
    assert (
        json.loads((results / "data.json").read_text())["sha256"]
        == json.loads((tmp_path / "data" / "done.json").read_text())["sha256"]
    )
    # ... and --from-results takes it up on another machine: the data made again and checked, the GRPO start and
    # the finished run carried, the report the same; a seed not run yet is named, not run (--max-runs 0)
    again = tmp_path / "again"
    run = learning(
        "--out", str(again), "--from-results", str(results), "--seeds", "0", "1", "--max-runs", "0"
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert not (again / "model").exists() and not (again / "sft" / "model").exists()  # no model, no SFT
    assert not (again / "grpo" / "default-s1").exists()
    assert (again / "metrics.csv").read_text() == (tmp_path / "metrics.csv").read_text()
    summary_again = json.loads((again / "summary.json").read_text())
    assert summary_again["start"] == summary["start"] and summary_again["missing"] == ["default-s1"]
    assert "Not run yet: default-s1" in (again / "summary.md").read_text()
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(again / "start").chat_template  # verl's dataset applies it
    for args, message in (
        (("--lr", "0.5"), "its plan differs in lr (0.0001 there, 0.5 here)"),
        (("--seed", "3"), "its data is not the data made here"),
    ):
        run = learning(
            "--out", str(tmp_path / args[0]), "--from-results", str(results), "--max-runs", "0", *args
        )
        assert run.returncode != 0 and message in run.stderr and "Traceback" not in run.stderr, run.stderr[
            -2000:
        ]
    # --results refuses, before any stage, a folder that holds another sweep: it would mix their starts and runs
    run = learning("--out", str(tmp_path / "other"), "--results", str(results), "--lr", "0.5")
    assert run.returncode != 0 and "holds another sweep, whose plan differs in lr" in run.stderr, run.stderr[
        -2000:
    ]
    assert not (tmp_path / "other").exists()


def test_the_plans_grpo_levers_reach_verls_overrides():
    sys.path.insert(0, str(SCRIPT.parent))
    from learning import Plan, grpo_args

    data = {"rl_parquet": "rl.parquet", "test_parquet": "test.parquet"}

    def given(plan, key):
        args = grpo_args(Path("run"), plan, data, Path("model"), "default", 0, "cpu", "hf_generate")
        return [a.split("=")[1] for a in args if a.startswith(key + "=")][-1]  # the last override wins

    mini_batch = "actor_rollout_ref.actor.ppo_mini_batch_size"  # the CPU settings give one too
    assert given(Plan(batch=8), mini_batch) == "8"  # one actor update a step
    assert given(Plan(batch=8, mini_batch=2), mini_batch) == "2"  # four actor updates per generated batch
    assert given(Plan(temperature=0.7), "actor_rollout_ref.rollout.temperature") == "0.7"
    assert given(Plan(kl_coef=0.2), "actor_rollout_ref.actor.kl_loss_coef") == "0.2"
    assert given(Plan(), "trainer.rollout_data_dir") == str(Path("run") / "rollouts")


def test_grpo_runs_go_parallel_at_a_time_and_max_runs_bounds_what_starts(tmp_path, monkeypatch):
    import threading

    from moss_plugins.verl import smoke

    sys.path.insert(0, str(SCRIPT.parent))
    import learning

    running, most, lock = [0], [0], threading.Lock()
    both = threading.Barrier(2, timeout=10)  # the first two runs must be in flight together

    def fake_main_ppo(recipe, args, run, cpu, echo):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if run.name in ("default-s0", "default-s1"):
            both.wait()
        with lock:
            running[0] -= 1
        return {"exit_code": 0}

    monkeypatch.setattr(smoke, "run_main_ppo", fake_main_ppo)
    monkeypatch.setattr(learning, "load", lambda path: [])
    monkeypatch.setattr(
        learning, "run_result", lambda run, arm, seed, samples, root: {"steps": 1, "train_s": 1.0}
    )
    data = {"test": str(tmp_path / "test.jsonl"), "rl_parquet": "rl", "test_parquet": "test"}
    plan = learning.Plan(arms=("default", "outcome"), seeds=(0, 1))
    go = (tmp_path, plan, data, tmp_path / "start", "cpu", "hf_generate")
    runs = learning.run_grpo(*go, max_runs=3, parallel=2)
    assert most[0] == 2 and list(runs) == [("default", 0), ("default", 1), ("outcome", 0)]
    runs = learning.run_grpo(*go, max_runs=3, parallel=2)  # the finished three are kept, the fourth starts
    assert len(runs) == 4 and most[0] == 2


def test_the_summary_gives_each_arm_its_mean_and_range_over_seeds():
    sys.path.insert(0, str(SCRIPT.parent))
    from learning import spread_table

    def run(arm, start, final, last3):
        return {
            "arm": arm,
            "start": {"all": {"accuracy": start, "trace_accuracy": 0.5}},
            "final": {"all": {"accuracy": final, "trace_accuracy": final - 0.1}},
            "final_accuracy_last3": last3,
        }

    table = spread_table(
        {
            "outcome": [run("outcome", 0.6, 0.7, 0.65), run("outcome", 0.6, 0.8, 0.75)],
            "paper": [run("paper", 0.6, 0.5, 0.55)],
        }
    )
    header, outcome, paper = table[2], table[4], table[5]
    assert header.startswith(
        "| arm | seeds | accuracy | change | accuracy, last 3 validations | trace_accuracy |"
    )
    assert outcome.startswith(
        "| outcome | 2 | 0.750 [0.700, 0.800] | +0.150 [+0.100, +0.200] | 0.700 [0.650, 0.750] | 0.650 [0.600, 0.700] |"
    )
    assert paper.startswith("| paper | 1 | 0.500 [0.500, 0.500] | -0.100 [-0.100, -0.100] |")
    assert paper.endswith("| - | - | - |")  # a metric a run lacks is a dash, not an error
