"""MOSS-ChatV's rule-based reward: answer accuracy, output format and a process reward that aligns the model's
steps with the reference trace (``preset="paper"``: the paper's ROUGE + subsequence DTW, exactly).

Framework-free (numpy, numba, pluggy, snowballstemmer; model2vec for the shipped static vectors of
``semantic_weight``; sentence-transformers only for a full embedding model).
``compute_score`` is verl's custom-reward contract, so ``reward.custom_reward_function.path=pkg://moss_plugins.reward``
works as is.
"""

from . import jit_cache  # noqa: F401 (first: where numba caches the kernels the modules below define)
from .alignment import Alignment
from .batch import score_batch
from .answer import parse_choice
from .config import ConfigError, RewardConfig
from .dtw import monotone_alignment, subsequence_dtw
from .ground_truth import GroundTruth, GroundTruthError, TraceStep, parse_ground_truth
from .reference import Reference, prepare_reference
from .registry import PluginError
from .rouge import rouge_f, similarity_matrix
from .score import (
    RESULT_KEYS,
    TermContext,
    compute_score,
    process_reward,
    score_and_align,
    score_solution,
)
from .segment import segment_steps
from .tokenize import tokenize

__all__ = [
    "RESULT_KEYS",
    "Alignment",
    "ConfigError",
    "GroundTruth",
    "GroundTruthError",
    "PluginError",
    "Reference",
    "RewardConfig",
    "TermContext",
    "TraceStep",
    "compute_score",
    "monotone_alignment",
    "parse_choice",
    "parse_ground_truth",
    "prepare_reference",
    "process_reward",
    "rouge_f",
    "score_and_align",
    "score_batch",
    "score_solution",
    "segment_steps",
    "similarity_matrix",
    "subsequence_dtw",
    "tokenize",
]
