"""DataProto rollouts as verl's agent loop hands them to the reward loop, built with a real tokenizer."""

import numpy as np
import torch
from verl import DataProto

PROMPT = "<|im_start|>user\nWhat will the light do next?<|im_end|>\n<|im_start|>assistant\n"


def rollouts(tokenizer, responses, ground_truths, response_length=None, eos=True) -> DataProto:
    """A right-padded batch: prompts | responses, attention mask over the valid tokens, rows' non-tensor fields."""
    prompt = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    ids = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    if response_length is not None:
        ids = [i[:response_length] for i in ids]
    if eos:
        ids = [i + [tokenizer.eos_token_id] for i in ids]
    width = response_length or max(len(i) for i in ids)
    ids = [i[:width] for i in ids]
    n = len(ids)
    pad = tokenizer.pad_token_id
    response = torch.full((n, width), pad, dtype=torch.long)
    mask = torch.zeros((n, len(prompt) + width), dtype=torch.long)
    for k, i in enumerate(ids):
        response[k, : len(i)] = torch.tensor(i, dtype=torch.long)
        mask[k, : len(prompt) + len(i)] = 1
    prompts = torch.tensor([prompt] * n, dtype=torch.long)
    input_ids = torch.cat([prompts, response], dim=1)
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": response, "attention_mask": mask, "input_ids": input_ids,
                 "position_ids": torch.cumsum(mask, dim=1) - 1},
        non_tensors={
            "data_source": np.array(["moss_video"] * n, dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": g} for g in ground_truths], dtype=object),
            "extra_info": np.array([{"index": k} for k in range(n)], dtype=object),
        },
    )  # fmt: skip
