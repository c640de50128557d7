"""MossVideoDataset through verl's own factory, collate_fn, rollout hook and multimodal processor call."""

import asyncio
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader
from verl.trainer.ppo.utils import create_rl_dataset
from verl.utils.dataset.rl_dataset import collate_fn
from verl.utils.tokenizer import build_multimodal_processor_inputs
from verl.workers.config import HFModelConfig

import moss_plugins.data.video as video_module
from moss_plugins.data import Sample, ValidationError, load_samples, save_samples
from moss_plugins.data.captions import text_prompt
from moss_plugins.verl.rows import export_verl, verl_row
from moss_plugins.data.synth.render import write_mp4
from moss_plugins.testing.examples import load_examples
from moss_plugins.verl.dataset import MossVideoDataset
from moss_plugins.verl.frames import CACHE, VideoOptions
from moss_plugins.verl.rows import check_row

FPS, N_FRAMES, CUT = 10, 40, 2.45  # frames 0..24 (t < 2.45 s) are visible, 25..39 are the masked future
LAST_VISIBLE = 24
EXAMPLE = load_examples()[0]


def _level(k: int) -> int:
    return 20 + 5 * k  # every frame is one flat grey level: a decoded frame tells which source frame it is


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A MOSS-Video folder: one video whose frames are flat grey levels, its per-frame states, the samples."""
    root = tmp_path_factory.mktemp("media")
    (root / "videos").mkdir()
    write_mp4(
        np.stack([np.full((120, 160, 3), _level(k), np.uint8) for k in range(N_FRAMES)]),
        root / "videos/v.mp4",
        FPS,
    )
    states = [{"light": "green" if k < 12 else "yellow" if k < 30 else "red"} for k in range(N_FRAMES)]
    (root / "videos/v.json").write_text(json.dumps({"fps": FPS, "states": states}))
    truth = EXAMPLE["ground_truth"]
    trace = [{**step, "state": {}} for step in truth["trace"] if step["t"][0] < CUT]
    samples = [
        {
            "id": f"s{k}",
            "video": "videos/v.mp4",
            "question": EXAMPLE["question"],
            "options": EXAMPLE["options"],
            "answer": truth["answer"],
            "task_type": "next_state",
            "observed_until": CUT,
            "trace": trace,
            "split": "train",
            "source": "test",
            "meta": {"states": "videos/v.json"},
        }
        for k in range(4)
    ]
    save_samples([Sample.from_json(s) for s in samples], root / "train.jsonl")
    return root


@pytest.fixture(scope="module")
def video(media):
    return media / "videos/v.mp4"


def _row(video, index: int, cut: float = CUT) -> dict:
    """A row as `moss data export --format verl` writes it (contract 3)."""
    sample = load_samples(video.parent.parent / "train.jsonl").samples[0]
    return verl_row(dataclasses.replace(sample, observed_until=cut), index, video.parent.parent)


@pytest.fixture(scope="module")
def train_file(media, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "train.parquet"
    return export_verl(media, out).files["all"]


@pytest.fixture(scope="module")
def model(qwen_dir):
    """Tokenizer and processor as verl's trainer and agent loop build them (HFModelConfig)."""
    return HFModelConfig(path=str(qwen_dir))


def _dataset(data_config, model, files, processor="model"):
    processor = model.processor if processor == "model" else processor
    return create_rl_dataset([str(f) for f in files], data_config, model.tokenizer, processor)


def _decode(messages, config, model):
    patch = model.processor.image_processor.patch_size
    return asyncio.run(
        MossVideoDataset.process_multi_modal_info(messages, image_patch_size=patch, config=config)
    )


def test_verls_factory_builds_it_and_collate_keeps_the_video_reference(
    job_config, model, train_file, override
):
    dataset = _dataset(override(job_config.data), model, [train_file])
    assert type(dataset) is MossVideoDataset and len(dataset) == 4
    batch = next(iter(DataLoader(dataset, batch_size=2, collate_fn=collate_fn)))
    assert batch["raw_prompt"].shape == (2,) and "videos" not in batch  # decoding is the rollout's job
    (item,) = [c for c in batch["raw_prompt"][0][0]["content"] if c["type"] == "video"]
    assert item["video_end"] == CUT and batch["reward_model"][0]["ground_truth"]["answer"] == "B"


def test_no_frame_after_the_cut_reaches_the_processor(job_config, model, train_file, monkeypatch, override):
    dataset = _dataset(override(job_config.data), model, [train_file])
    messages = dataset[0]["raw_prompt"]
    CACHE.clear()
    _, videos, _ = _decode(messages, dataset.config, model)
    seen = []
    processor = model.processor
    original = type(processor).__call__
    monkeypatch.setattr(
        type(processor), "__call__", lambda self, *a, **kw: seen.append(kw) or original(self, *a, **kw)
    )
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # As the agent loop calls it.
    inputs = build_multimodal_processor_inputs(processor, text=[text], videos=videos)

    (frames,) = seen[0]["videos"]
    levels = frames.float().mean(dim=(1, 2, 3))
    # Levels are 5 apart: the brightest frame is the last visible one, never the first masked one.
    assert abs(levels.max() - _level(LAST_VISIBLE)) < 2.5 and (levels < _level(LAST_VISIBLE + 1) - 2.5).all()
    (metadata,) = seen[0]["video_metadata"]
    assert max(metadata["frames_indices"]) < CUT * FPS and metadata["total_num_frames"] == LAST_VISIBLE + 1
    assert inputs["video_grid_thw"].shape == (1, 3)
    tokens = int(inputs["video_grid_thw"].prod()) // 4
    assert int((inputs["input_ids"] == processor.video_token_id).sum()) == tokens


def test_frames_and_pixels_are_capped(job_config, model, train_file, override):
    config = override(
        job_config.data,
        **{
            "moss_video.fps": 10.0,
            "moss_video.max_frames": 6,
            "moss_video.max_pixels": 56 * 84,
            "moss_video.min_pixels": 28 * 28,
        },
    )
    dataset = _dataset(override(job_config.data), model, [train_file])
    _, ((frames, metadata),), _ = _decode(dataset[0]["raw_prompt"], config, model)
    t, c, h, w = frames.shape
    assert (t, c) == (6, 3) and frames.dtype == torch.uint8
    assert h * w <= 56 * 84 and h % 28 == 0 and w % 28 == 0
    assert metadata["frames_indices"] == sorted(metadata["frames_indices"]) and metadata[
        "fps"
    ] == pytest.approx(FPS)


def test_a_grpo_group_decodes_its_video_once(job_config, model, train_file, monkeypatch, override):
    dataset = _dataset(override(job_config.data), model, [train_file])
    messages = dataset[0]["raw_prompt"]
    calls = []
    real = video_module.load_frames
    monkeypatch.setattr(video_module, "load_frames", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    CACHE.clear()
    patch = model.processor.image_processor.patch_size

    async def group(
        n,
    ):  # the n agent loops of a group call the hook concurrently (AgentLoopWorker._run_prompt)
        return await asyncio.gather(
            *(
                MossVideoDataset.process_multi_modal_info(
                    messages, image_patch_size=patch, config=dataset.config
                )
                for _ in range(n)
            )
        )

    results = asyncio.run(group(8))
    assert len(calls) == 1 and CACHE.loads == 1 and CACHE.requests == 8
    assert all(r[1][0][0] is results[0][1][0][0] for r in results)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"moss_video.max_frames": 0}, r"data\.moss_video\.max_frames"),
        ({"moss_video.max_pixels": 10, "moss_video.min_pixels": 100}, r"data\.moss_video\.max_pixels"),
        ({"moss_video.fsp": 2}, r"unknown option.*fsp"),
        ({"moss_video.video_as": "audio"}, r"video_as"),
    ],
)
def test_bad_options_fail_when_the_dataset_is_built(job_config, model, train_file, change, message, override):
    with pytest.raises(ValueError, match=message):
        _dataset(override(job_config.data, **change), model, [train_file])


def _broken(video, tmp_path, field):
    row = _row(video, 1)
    if field == "video":
        row["videos"] = [{"video": str(tmp_path / "gone.mp4"), "video_start": 0.0, "video_end": CUT}]
    elif field == "cut":
        row["videos"] = [{"video": str(video), "video_start": 0.0, "video_end": CUT + 1}]
    elif field == "trace":
        row["reward_model"]["ground_truth"]["trace"].append(
            {"t": [CUT + 0.5, CUT + 1], "text": "Seen after the cut."}
        )
    elif field == "answer":
        row["reward_model"]["ground_truth"]["answer"] = "C"
    elif field == "placeholder":
        row["prompt"][0]["content"] += "<video>"
    elif field == "captions":
        row["extra_info"]["captions"] = [{"t": [0.0, CUT + 0.5], "text": "light: red"}]
    return row


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("video", r"row 1: videos\[0\]\.video: .*gone\.mp4"),
        ("cut", r"row 1: videos\[0\]: video_end=3\.45 differs from extra_info\.observed_until"),
        ("trace", r"row 1: reward_model\.ground_truth\.trace\[2\]\.t: .*after observed_until"),
        ("answer", r"row 1: reward_model\.ground_truth\.answer"),
        ("placeholder", r"row 1: prompt: needs exactly one <video>"),
    ],
)
def test_bad_rows_fail_when_the_dataset_is_built(
    job_config, model, video, tmp_path, field, message, override
):
    path = tmp_path / "bad.parquet"
    pd.DataFrame([_row(video, 0), _broken(video, tmp_path, field)]).to_parquet(path)
    with pytest.raises(ValueError, match=message):
        _dataset(override(job_config.data), model, [path])


def test_captions_past_the_cut_are_refused(video, tmp_path):
    with pytest.raises(ValidationError, match="past the cut") as error:
        check_row(_broken(video, tmp_path, "captions"), frames=False)
    assert error.value.field == "extra_info.captions"


def test_text_only_models_get_captions_instead_of_frames(job_config, phi2_dir, media, train_file, override):
    phi2 = HFModelConfig(
        path=str(phi2_dir), custom_chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    assert phi2.processor is None
    with pytest.raises(ValueError, match="video_as=captions"):
        _dataset(override(job_config.data), phi2, [train_file])
    dataset = _dataset(override(job_config.data, **{"moss_video.video_as": "captions"}), phi2, [train_file])
    (message,) = dataset[0]["raw_prompt"]
    sample = load_samples(media / "train.jsonl").samples[0]
    assert message["content"] == text_prompt(sample, media)  # the same text SFT and evaluation use
    assert message["content"].startswith(
        "The video, described in text:\n[0-1.2 s] light: green\n[1.2-2.4 s] light: yellow\n"
    )
    assert (
        "cut at 2.45 s" in message["content"] and "red" not in message["content"].split("The video is cut")[0]
    )
    assert dataset._process_multi_modal_info(dataset[0]["raw_prompt"], 14, dataset.config) == (
        None,
        None,
        None,
    )


def test_options_defaults_and_frame_counts():
    options = VideoOptions()
    assert options.nframes(CUT) == 4 and options.nframes(7.3) == 14 and options.nframes(600) == 32
    assert all(options.nframes(t) % 2 == 0 for t in np.linspace(0.1, 100, 200))
    assert options.max_video_tokens() == 16 * 128
