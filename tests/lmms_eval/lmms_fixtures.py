"""Helpers for the lmms-eval tests: a hand-made lmms export (contract 4) with tiny colour videos, and the
real lmms-eval CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 190, 70), "blue": (40, 90, 230), "yellow": (235, 210, 40)}
FPS = 4


def write_video(path: Path, colours: list[str], fps: int = FPS, size: int = 32) -> None:
    """One frame per colour name, solid colour, written by the synthetic scenes' writer (H.264, or MPEG-4 when
    this PyAV has no libx264)."""
    from moss_plugins.data.synth.render import write_mp4

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.empty((len(colours), size, size, 3), np.uint8)
    frames[:] = np.array([COLOURS[name] for name in colours], np.uint8)[:, None, None, :]
    write_mp4(frames, path, fps)


def sample(k: int, split: str, task_type: str = "next_state") -> dict:
    """A colour-cycle sample: the disc shows red, green, blue in turn; the video is cut after 6 frames."""
    cycle = ["red", "green", "blue"]
    shown = [cycle[i % 3] for i in range(6)]
    options = ["red", "green", "blue", "yellow"]
    answer = "ABCD"[options.index(cycle[6 % 3])]
    trace = [
        {"t": [0.0, 0.5], "text": "The disc is red.", "state": {"colour": "red"}},
        {"t": [0.25, 0.75], "text": "The disc turns green.", "state": {"colour": "green"}},
        {"t": [0.5, 1.0], "text": "The disc turns blue.", "state": {"colour": "blue"}},
        {"t": [1.25, 1.375], "text": "The cycle is red, green, blue, so red comes next.", "state": {}},
    ]
    return {
        "id": f"fixture-{split}-{k}",
        "video": f"videos/fixture-{k}.mp4",
        "question": "The video stops at 1.375 s. Which colour will the disc show next?",
        "options": options,
        "answer": answer,
        "task_type": task_type,
        "observed_until": 1.375,
        "trace": json.dumps(trace),
        "split": split,
        "source": "fixture",
        "meta": json.dumps({"scene": "color_cycle", "shown": shown}),
        "_frames": shown + ["red", "green"],  # two masked frames after the cut
    }


def write_export(folder: Path, n_test: int = 3, n_train: int = 2) -> Path:
    """An lmms export: test.jsonl, train.jsonl and full (uncut) videos under videos/."""
    folder.mkdir(parents=True, exist_ok=True)
    types = ("next_state", "final_state", "event_order")
    for split, n in (("test", n_test), ("train", n_train)):
        rows = [sample(k, split, types[k % len(types)]) for k in range(n)]
        with (folder / f"{split}.jsonl").open("w") as f:
            for row in rows:
                write_video(folder / row["video"], row.pop("_frames"))
                f.write(json.dumps(row) + "\n")
    return folder


VENV_BIN = Path(sys.executable).parent


def offline_env(**extra) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(args: list[str], env: dict, cwd: Path, timeout: int = 300, python_prelude: str | None = None):
    """The real ``lmms-eval`` console script (or, with ``python_prelude``, its entry function after that code)."""
    if python_prelude is None:
        cmd = [str(VENV_BIN / "lmms-eval"), *args]
    else:
        code = f"{python_prelude}\nimport sys\nfrom lmms_eval.cli.dispatch import main\nsys.argv = ['lmms-eval', *{args!r}]\nmain()"
        cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0 and "Error during evaluation" not in out.stdout, (
        out.stdout[-4000:] + out.stderr[-4000:]
    )
    return out


def read_run(output_path: Path, task: str) -> tuple[dict, list[dict]]:
    """(results JSON, logged samples) of one lmms-eval run written under ``output_path``."""
    results = json.loads(next(output_path.rglob("*_results.json")).read_text())
    samples_file = next(output_path.rglob(f"*_samples_{task}.jsonl"))
    samples = [json.loads(line) for line in samples_file.read_text().splitlines() if line.strip()]
    return results, samples
