"""A long annotated video must not give a reference the reward cannot read: the builder condenses it, the
default reward's caps follow the reference, and `moss data validate` warns about one it cannot score."""

import json
import random

from moss_plugins.cli import main
from moss_plugins.data import load_samples
from moss_plugins.data.annotations import read_annotations
from moss_plugins.data.segments import Segment
from moss_plugins.data.build import BuildConfig, build_dataset, condense
from moss_plugins.output_format import format_response
from moss_plugins.reward import compute_score
from moss_plugins.reward.segment import DEFAULT_MAX_STEPS
from moss_plugins.testing.annotated_videos import write_annotated_videos


def caption(video: int, k: int) -> str:
    return f"the person in video {video} does action number {k} with the red box near the window"


def _long_truth(n_steps: int) -> dict:
    rng = random.Random(0)
    words = (
        "cup ball lamp door box plant kettle chair opens closes rolls falls lifts spins fills turns".split()
    )
    return {
        "answer": "A",
        "options": ["x", "y"],
        "trace": [{"t": [k, k + 1], "text": " ".join(rng.choices(words, k=8))} for k in range(n_steps)],
    }


def test_the_default_reward_reads_a_long_reference_in_full():
    truth = _long_truth(300)
    restated = format_response([s["text"] for s in truth["trace"]], "A")
    assert compute_score(None, restated, truth)["process"] == 1.0
    paper = compute_score(
        None, restated, truth, preset="paper"
    )  # the paper's caps: 64 steps of 20,000 characters
    assert paper["n_pred_steps"] == DEFAULT_MAX_STEPS and paper["process"] < 0.5


def test_condense_keeps_order_times_and_the_caps():
    segs = [Segment(float(k), float(k + 1), f"event number {k} happens here") for k in range(1000)]
    steps = condense(segs, 31, 9000)
    assert len(steps) <= 31 and sum(len(s.text) for s in steps) <= 9000
    assert steps[0].t[0] == 0.0 and steps[-1].t[1] == 1000.0
    assert all(a.t[1] <= b.t[0] for a, b in zip(steps, steps[1:]))
    short = condense(segs[:5], 31, 9000)
    assert [s.text for s in short] == [s.caption for s in segs[:5]]  # short traces are untouched


def test_build_condenses_long_videos_and_validate_warns_about_long_traces(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    src = write_annotated_videos(
        tmp_path / "src", [[caption(v, k) for k in range(150)] for v in range(2)], fps=2
    )
    build_dataset(read_annotations(src), tmp_path / "out", BuildConfig(seed=1, max_per_video=3))
    samples = load_samples(tmp_path / "out").samples
    assert samples and max(len(s.trace) for s in samples) <= BuildConfig().max_trace_steps
    assert max(sum(len(t.text) for t in s.trace) for s in samples) <= BuildConfig().max_trace_chars
    for s in samples:
        truth = {"answer": s.answer, "options": list(s.options), "trace": [t.to_json() for t in s.trace]}
        out = format_response([t.text for t in s.trace], s.answer)
        assert compute_score(None, out, truth, preset="paper")["process"] == 1.0
    assert main(["data", "validate", str(tmp_path / "out")]) == 0
    assert "warning" not in capsys.readouterr().out
    assert (
        main(
            [
                "data",
                "build",
                str(src),
                "--out",
                str(tmp_path / "out8"),
                "--max-trace-steps",
                "8",
                "--max-per-video",
                "2",
            ]
        )
        == 0
    )
    assert max(len(s.trace) for s in load_samples(tmp_path / "out8").samples) <= 8

    row = json.loads((tmp_path / "out" / "train.jsonl").read_text("utf-8").splitlines()[0])
    cut = row["observed_until"]
    row["trace"] = [{"t": [0, cut], "text": f"step {k}"} for k in range(DEFAULT_MAX_STEPS + 1)] + row[
        "trace"
    ][-1:]
    (tmp_path / "out" / "long.jsonl").write_text(json.dumps(row) + "\n", "utf-8")
    assert main(["data", "validate", str(tmp_path / "out" / "long.jsonl")]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert "warning" in out and f"{DEFAULT_MAX_STEPS + 2} steps > {DEFAULT_MAX_STEPS}" in out
