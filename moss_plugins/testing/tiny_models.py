"""Offline stand-ins for the recipes' model families: the real tokenizer/processor CLASSES with a tiny vocabulary.

verl's ``run.sh --check``, the verl and lmms-eval tests and ``moss demo`` need a Qwen2.5-VL processor and a Phi-2
tokenizer (and, for lmms-eval's own ``qwen2_5_vl`` backend, a model that runs) but may not download anything.
:func:`build` writes a folder that ``AutoTokenizer`` / ``AutoProcessor`` / ``AutoConfig`` (and so verl's
``HFModelConfig``) load like the hub checkpoint: same classes, special tokens, chat format and vision
preprocessing settings; only the BPE vocabulary (trained in milliseconds on MOSS-style text) and the model
(2 layers, hidden size 64; random weights only when asked for) are small.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from moss_plugins.output_format import (
    FREE_FORM_INSTRUCTION,
    REASONING_INSTRUCTION,
    build_prompt,
    format_response,
)

FAMILIES = ("qwen2_5_vl", "phi2")

# Qwen2.5-VL's added tokens, in the hub tokenizer's order.
QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# The Qwen2.5-VL chat format (system turn by default; each image/video item becomes vision_start, pad, vision_end).
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'video' or 'video' in item %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif item['type'] == 'image' or 'image' in item %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in item %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2.5-VL-7B-Instruct's preprocessor settings (images and videos share them on the hub).
QWEN_VISION = {
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "min_pixels": 3136,
    "max_pixels": 12845056,
}


def corpus() -> list[str]:
    """MOSS-style text for the tiny BPE: the bundled split's prompts and captions, reasoning steps, tags. In-domain
    text gives ~3 characters per token, close to the real tokenizers, so prompt-length checks are meaningful."""
    from moss_plugins.data import load_samples, mini_split_dir
    from moss_plugins.data.captions import text_prompt
    from moss_plugins.testing.examples import load_examples

    lines = [REASONING_INSTRUCTION, FREE_FORM_INSTRUCTION, "<think>", "</think>", "<answer>", "</answer>"]
    for example in load_examples():
        lines.append(build_prompt(example["question"], example["options"]))
        lines.append(
            format_response(
                [s["text"] for s in example["ground_truth"]["trace"]], example["ground_truth"]["answer"]
            )
        )
        lines += [c["output"] for c in example["candidates"]]
    for sample in load_samples(mini_split_dir()).samples:
        lines.append(text_prompt(sample, mini_split_dir()))
        lines.append(format_response([step.text for step in sample.trace], sample.answer))
    return lines


@cache
def _bpe(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m.split(" ") if isinstance(m, str) else m) for m in model["merges"]]


def qwen2_5_vl_tokenizer(vocab_size: int = 1500):
    """A ``Qwen2Tokenizer`` (the class Qwen2.5-VL checkpoints load) with the Qwen special tokens and chat format."""
    from transformers import AddedToken, Qwen2Tokenizer

    vocab, merges = _bpe(vocab_size)
    tok = Qwen2Tokenizer(
        vocab=dict(vocab), merges=list(merges), eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tok.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True) for t in QWEN_SPECIAL]})
    tok.chat_template = QWEN_CHAT_TEMPLATE
    return tok


def qwen2_5_vl_processor(vocab_size: int = 1500):
    """A ``Qwen2_5_VLProcessor`` with Qwen2.5-VL-7B-Instruct's image and video preprocessing settings."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**QWEN_VISION),
        video_processor=Qwen2VLVideoProcessor(**QWEN_VISION),
        tokenizer=qwen2_5_vl_tokenizer(vocab_size),
        chat_template=QWEN_CHAT_TEMPLATE,
    )


def phi2_tokenizer(vocab_size: int = 1500):
    """A ``CodeGenTokenizer`` (microsoft/phi-2's class): byte-level BPE, ``<|endoftext|>``, no chat template."""
    from transformers import CodeGenTokenizer

    vocab, merges = _bpe(vocab_size)
    vocab = {**vocab, "<|endoftext|>": len(vocab)}
    return CodeGenTokenizer(vocab=vocab, merges=list(merges))


def _model_config(family: str, tokenizer):
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        ids = {
            t: tokenizer.convert_tokens_to_ids(t)
            for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
        }
        text = {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
            "eos_token_id": tokenizer.eos_token_id,
            "rope_scaling": {"type": "mrope", "mrope_section": [4, 2, 2]},
        }  # (M-RoPE sections cover half a head: 64 / 4 heads / 2)
        vision = {
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 4,
            "out_hidden_size": 64,
            "fullatt_block_indexes": [1],
            "window_size": 112,
        }
        return Qwen2_5_VLConfig(
            text_config=text,
            vision_config=vision,
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
            bos_token_id=text["bos_token_id"],
            eos_token_id=text["eos_token_id"],
            architectures=["Qwen2_5_VLForConditionalGeneration"],
        )
    from transformers import PhiConfig

    return PhiConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        architectures=["PhiForCausalLM"],
    )


def word_tokenizer(lines, vocab_size: int, chat_template: str | None = None):
    """A byte-level BPE trained on ``lines`` whose tokens never span words, as in the hub tokenizers: a number is one
    token, a word with its leading space one or a few, punctuation its own. A value then reads as the same token
    wherever it stands (in the captions, the trace and the options), which a small model needs in order to learn
    to copy it; tokens that span words ("s] color: orange", "A. orange") hide the shared value and kept a 5M model
    at chance. ``<|endoftext|>`` ends a response and pads, as in Phi-2."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(r"\d+(?:\.\d+)?|\n| ?\p{L}+| ?[^\s\p{L}\d]+|[^\S\n]+"), behavior="isolated"
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def phi(
    path: str | Path,
    lines,
    vocab_size: int,
    layers: int,
    hidden: int,
    chat_template: str | None = None,
    seed: int = 0,
    head_dim: int = 64,
) -> Path:
    """A Phi model (``PhiForCausalLM``, Phi-2's architecture, randomly initialised, seeded) of the given size with a
    :func:`word_tokenizer` trained on ``lines``: small enough to train on a CPU, in a folder verl and
    ``from_pretrained`` load like a hub checkpoint; ``hidden / head_dim`` heads. (Not Qwen2: ``AutoTokenizer``
    forces Qwen2's own tokenizer class on a qwen2 checkpoint, which re-splits text into words.)"""
    import torch
    from transformers import PhiConfig, PhiForCausalLM

    path = Path(path)
    tokenizer = word_tokenizer(lines, vocab_size, chat_template)
    config = PhiConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // head_dim),
        max_position_embeddings=2048,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["PhiForCausalLM"],
    )
    torch.manual_seed(seed)
    tokenizer.save_pretrained(path)
    PhiForCausalLM(config).save_pretrained(path)
    return path


def build(family: str, path: str | Path, weights: bool = False, seed: int = 0) -> Path:
    """Write a loadable model folder for ``family``: tokenizer or processor files and ``config.json``, plus
    randomly initialised weights (seeded) when ``weights`` is true."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {list(FAMILIES)}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if family == "qwen2_5_vl":
        processor = qwen2_5_vl_processor()
        processor.save_pretrained(path)
        tokenizer = processor.tokenizer
    else:
        tokenizer = phi2_tokenizer()
        tokenizer.save_pretrained(path)
    config = _model_config(family, tokenizer)
    config.save_pretrained(path)
    if weights:
        import torch
        from transformers import AutoModelForCausalLM, Qwen2_5_VLForConditionalGeneration

        torch.manual_seed(seed)
        model = (
            Qwen2_5_VLForConditionalGeneration(config)
            if family == "qwen2_5_vl"
            else AutoModelForCausalLM.from_config(config)
        )
        model.save_pretrained(path)
    return path
