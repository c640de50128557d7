"""Model responses written from a ground truth, for checks that score known-good and known-bad outputs."""

from __future__ import annotations

from typing import Any

from moss_plugins.output_format import LETTERS, format_response
from moss_plugins.reward import parse_ground_truth


def reference_response(ground_truth: Any, answer: str | None = None) -> str:
    """The reference trace in the asked-for format, with its answer letter (or ``answer``)."""
    truth = parse_ground_truth(ground_truth)
    return format_response(truth.step_texts, truth.answer if answer is None else answer)


def wrong_letter(ground_truth: Any) -> str:
    """An option letter that is not the answer."""
    truth = parse_ground_truth(ground_truth)
    n = len(truth.options) if truth.options else 4
    return next(letter for letter in LETTERS[:n] if letter != truth.answer)


def rollout_batch(
    tokenizer,
    responses,
    ground_truths,
    response_length: int | None = None,
    eos: bool = True,
    prompt: str = "What will happen next?",
):
    """A verl ``DataProto`` of rollouts as the reward loop receives them: right-padded ``prompts | responses``, the
    attention mask over the valid tokens, and each row's ``data_source``/``reward_model``/``extra_info``.

    ``response_length`` cuts the responses (and pads the batch) to that many tokens, EOS included if ``eos``.
    """
    import numpy as np
    import torch
    from verl import DataProto

    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    prompt_ids = tokenizer(prompt_ids, add_special_tokens=False)["input_ids"]
    ids = [
        tokenizer(r, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if eos else [])
        for r in responses
    ]
    width = response_length or max(len(i) for i in ids)
    ids = [i[:width] for i in ids]
    n = len(ids)
    response = torch.full((n, width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((n, len(prompt_ids) + width), dtype=torch.long)
    for k, i in enumerate(ids):
        response[k, : len(i)] = torch.tensor(i, dtype=torch.long)
        mask[k, : len(prompt_ids) + len(i)] = 1
    prompts = torch.tensor([prompt_ids] * n, dtype=torch.long)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": response,
            "attention_mask": mask,
            "input_ids": torch.cat([prompts, response], dim=1),
            "position_ids": torch.cumsum(mask, dim=1) - 1,
        },
        non_tensors={
            "data_source": np.array(["moss_video"] * n, dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": g} for g in ground_truths], dtype=object
            ),
            "extra_info": np.array([{"index": k} for k in range(n)], dtype=object),
        },
    )
