"""The real lmms-eval CLI, offline on CPU: lmms-eval's qwen2_5_vl backend on a tiny random Qwen2.5-VL, and the
pixel-reading baseline registered through our entry point, on moss_video (also on an export built from
real-video dataset imports)."""

import json
from pathlib import Path

import pytest
from lmms_fixtures import offline_env, read_run, run_cli

from moss_plugins.data.video import load_frames
from moss_plugins.evaluation.trace_metrics import REFERENCE_METRICS


@pytest.mark.slow
def test_qwen2_5_vl_backend_with_the_entry_point_alone(tiny_qwen, lmms_export, tmp_path):
    """lmms-eval's own qwen2_5_vl backend (chat path) on two docs; the .pth hook is removed first, so the tasks
    are found through the lmms_eval.models entry point only."""
    model_args = (
        f"pretrained={tiny_qwen},device=cpu,device_map=cpu,max_num_frames=4,max_pixels=12544,min_pixels=3136"
    )
    args = [
        "--model",
        "qwen2_5_vl",
        "--model_args",
        model_args,
        "--tasks",
        "moss_video",
        "--limit",
        "2",
        "--gen_kwargs",
        "max_new_tokens=24",
        "--output_path",
        str(tmp_path / "out"),
        "--log_samples",
    ]
    prelude = "import moss_plugins.lmms_eval.autoload as hook\nhook.uninstall()"
    cache = tmp_path / "cache"
    run_cli(
        args,
        offline_env(MOSS_VIDEO_LMMS_DIR=lmms_export, MOSS_PLUGINS_CACHE=cache),
        tmp_path,
        python_prelude=prelude,
    )
    results, samples = read_run(tmp_path / "out", "moss_video")
    row = results["results"]["moss_video"]
    for metric in (m for m in REFERENCE_METRICS if m != "temporal_order"):  # a random model covers no step
        assert isinstance(row[f"{metric},none"], float)
        low, high = row[f"{metric}_ci95,none"]
        assert low - 1e-4 <= row[f"{metric},none"] <= high + 1e-4  # the interval is rounded to 4 decimals
    assert Path(row["report,none"]).is_file()
    assert results["configs"]["moss_video"]["reasoning_tags"] == "none"
    assert len(samples) == 2
    for sample in samples:
        # the raw generation reached the metrics (lmms-eval strips surrounding white space, nothing else)
        assert sample["filtered_resps"].strip() == sample["report"]["output"]
        # the report points at the export's video (a cached clip may be evicted later)
        assert Path(sample["report"]["video"]).parent == lmms_export / "videos"
    # the model was handed cut clips, made for the 2 docs of --limit 2 only
    clips = sorted((cache / "clips").glob("*.mp4"))
    assert len(clips) == 2
    for clip in clips:
        assert max(load_frames(clip, timeout=None).timestamps) < samples[0]["report"]["observed_until"]


@pytest.mark.slow
def test_dataset_imports_on_real_video_through_build_validate_export_and_lmms_eval(tmp_path, capsys):
    """ActivityNet Captions, YouCook2 and Charades-STA files for real camera clips (tests/real_clips.py), in one
    `moss data build`, then `moss data validate`, `moss data export --format lmms` and `lmms-eval --model
    moss_baseline --tasks moss_video` on the export: every test sample of every dataset is evaluated."""
    from real_clips import write_dataset_layouts

    from moss_plugins.cli import main

    files = [str(f) for fs in write_dataset_layouts(tmp_path / "src").values() for f in fs]
    built, export = tmp_path / "built", tmp_path / "export"
    assert main(["data", "build", *files, "--out", str(built)]) == 0
    assert main(["data", "validate", str(built)]) == 0
    assert main(["data", "export", "--format", "lmms", "--in", str(built), "--out", str(export)]) == 0
    capsys.readouterr()
    test_ids = [json.loads(line)["id"] for line in (export / "test.jsonl").read_text().splitlines()]
    assert {i.split("-")[1] for i in test_ids} == {
        "v_carphone",
        "yc_carphone",
        "CP01",
    }  # each dataset's test split
    run_cli(
        [
            "--model",
            "moss_baseline",
            "--tasks",
            "moss_video",
            "--output_path",
            str(tmp_path / "out"),
            "--log_samples",
        ],
        offline_env(MOSS_VIDEO_LMMS_DIR=export, MOSS_PLUGINS_CACHE=tmp_path / "cache"),
        tmp_path,
    )
    results, samples = read_run(tmp_path / "out", "moss_video")
    row = results["results"]["moss_video"]
    assert row["format_rate,none"] == 1.0 and 0.0 <= row["accuracy,none"] <= 1.0
    assert sorted(s["report"]["id"] for s in samples) == sorted(test_ids)
