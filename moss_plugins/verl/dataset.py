"""``MossVideoDataset``: verl's RLHFDataset for MOSS-Video rows (``moss data export --format verl``).

Selected by ``data=moss_video`` (``data.custom_cls``). What it changes in verl's dataset:

- videos are decoded with :func:`moss_plugins.data.video.load_frames` (decord, PyAV fallback, killable on a
  hang), only before ``video_end`` (the sample's ``observed_until``), with the frame and pixel caps of the
  ``data.moss_video`` block, and once per GRPO group (:mod:`moss_plugins.verl.frames`);
- rows are checked when the dataset is built (video file, cut, ground truth), so a data bug fails at start-up
  with the row number instead of in a rollout hours later;
- ``video_as: captions`` replaces the video with timestamped text captions for models without a vision tower
  (Phi-2; see :mod:`moss_plugins.data.captions`).

It overrides three private methods of verl's dataset, so it checks verl's version before anything else
(:mod:`moss_plugins.verl.supported`).
"""

from __future__ import annotations

from verl.utils.dataset.rl_dataset import RLHFDataset

from moss_plugins.data.captions import CAPTIONS_KEY, captions_prompt
from moss_plugins.sample import ValidationError

from .frames import VideoOptions, load_video
from .rows import check_row
from .supported import require_supported_verl


class MossVideoDataset(RLHFDataset):
    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1):
        require_supported_verl(
            "MossVideoDataset (data=moss_video; overrides _read_files_and_tokenize, _build_messages and "
            "_process_multi_modal_info)"
        )
        self.video_options = VideoOptions.from_data_config(config)  # before reading: bad options fail first
        if self.video_options.video_as == "frames" and processor is None:
            raise ValueError(
                "data.moss_video.video_as=frames needs a multimodal processor, but the model has none (text-only "
                "model such as Phi-2?). Set data.moss_video.video_as=captions to describe the video in text."
            )
        super().__init__(data_files, tokenizer, config, processor, max_samples)

    def _read_files_and_tokenize(self):
        super()._read_files_and_tokenize()
        self._check_rows()

    def _check_rows(self) -> None:
        """Every row as :func:`moss_plugins.verl.rows.check_row` wants it; the first bad one stops the run."""
        files = ", ".join(map(str, self.data_files))
        for k, row in enumerate(self.dataframe):
            try:
                check_row(row, self._frames, self.video_key, self.prompt_key)
            except ValidationError as e:
                raise ValueError(
                    f"{e.located(f'{files}: row {k}')} (write rows with `moss data export --format verl`)"
                ) from None

    @property
    def _frames(self) -> bool:
        return self.video_options.video_as == "frames"

    def _build_messages(self, example: dict, key: str):
        if self._frames:
            return super()._build_messages(example, key)
        messages = example[key]
        for message in messages:
            if isinstance(message.get("content"), str):
                message["content"] = captions_prompt(message["content"], *_captions(example))
        example.pop(self.video_key, None)
        return messages

    @classmethod
    def _process_multi_modal_info(cls, messages, image_patch_size, config):
        """verl's hook (called by the rollout for each of the n samples, and by prompt-length filtering)."""
        items = [
            item
            for message in messages
            if isinstance(message.get("content"), list)
            for item in message["content"]
            if isinstance(item, dict) and item.get("type") in ("image", "video")
        ]
        if not items:
            return None, None, None
        if any(item["type"] == "image" for item in items):
            raise ValueError("MossVideoDataset rows carry one video and no images; found an image item")
        options = VideoOptions.from_data_config(config)
        return None, [load_video(item, options, image_patch_size) for item in items], None


def _captions(row: dict) -> tuple:
    """(captions, cut) of a row: ``extra_info.captions`` and ``extra_info.observed_until``."""
    extra = row.get("extra_info") or {}
    return extra.get(CAPTIONS_KEY), extra.get("observed_until")
