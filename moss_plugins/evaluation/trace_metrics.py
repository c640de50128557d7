"""Per-sample trace metrics and their aggregation (framework-free: the reward core and numpy).

With a reference trace (MOSS-Video):

- ``accuracy``: the option in ``<answer>`` is the right one (the reward core's ``acc``).
- ``format_rate``: one ``<think>`` block with at least one step, then one non-empty ``<answer>`` block (the
  reward core's ``format``).
- ``trace_dtw``: the reward core's process reward T(D) in [0, 1] (1 = the reference, restated): the same code
  and configuration as training, the default or, with ``MOSS_REWARD_PRESET=paper`` in the environment, the
  paper's (ROUGE step cost, subsequence DTW).
- ``step_coverage``: share of reference steps whose most similar model step has a step similarity (the
  reward's) >= :data:`COVERAGE_THRESHOLD` (order-free: it measures content).
- ``temporal_order``: among the covered reference steps, the share of pairs (a before b in the reference)
  whose best-matching model steps come in the same order (a tie, one model step matching both, counts 1/2).
  Undefined, and left out of the mean, when fewer than two reference steps are covered.
- ``answer_consistency``: the trace's conclusion supports the given answer (:func:`answer_consistency`).

Without a reference (MVBench, MMVU): ``accuracy``, ``format_rate``, ``answer_consistency`` and
``trace_length`` (the number of steps the reward core's segmenter finds).

Aggregation: the mean and a seeded percentile bootstrap 95 % confidence interval (:func:`bootstrap_ci`).
The lmms-eval tasks report them (``moss_plugins.lmms_eval.hooks``); nothing here imports an evaluation framework.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..output_format import LETTERS, answer_blocks, format_ok, normalize
from ..reward import score_and_align, segment_steps
from ..reward.answer import LETTER_MARKER, is_choice, is_correct, parse_answer
from ..reward.lexicon import STOPWORDS
from ..reward.config import resolve_config
from ..reward.tokenize import CJK_CHAR, tokenize

COVERAGE_THRESHOLD = 0.5  # step similarity; a restatement scores ~1, a paraphrase ~0.4-0.9 (ROUGE: ~0.2-0.5)
# The reward preset the reference metrics use (lmms-eval runs the tasks in-process, so the environment is how a
# user chooses it): "default" or "paper".
PRESET_ENV = "MOSS_REWARD_PRESET"
REFERENCE_METRICS = (
    "accuracy",
    "format_rate",
    "trace_dtw",
    "step_coverage",
    "temporal_order",
    "answer_consistency",
)
REFERENCE_FREE_METRICS = ("accuracy", "format_rate", "answer_consistency", "trace_length")
BOOTSTRAP_ITERS = int(os.environ.get("MOSS_BOOTSTRAP_ITERS", "2000"))
BOOTSTRAP_SEED = int(os.environ.get("MOSS_BOOTSTRAP_SEED", "0"))

# A letter that names an option: "option B", "answer is B", or one the reward reads as a letter ("(B)", "B.").
_LETTER_RE = re.compile(rf"\b(?:option|answer|choice)\s*(?:is\s*)?:?\s*\(?([A-Z])\b|{LETTER_MARKER}")


# Not an option's own keyword: the function words, and negations and order words, which a trace uses about
# every option.
_STOPWORDS = STOPWORDS | {"not", "no", "after", "before"}


def _is_cjk(token: str) -> bool:
    return len(token) == 1 and not token.isascii() and CJK_CHAR.match(token) is not None


def _tokens_pattern(tokens: Sequence[str]) -> re.Pattern:
    """Tokens in a row on the flattened text: words need a space between them, CJK characters touch."""
    parts = []
    for k, token in enumerate(tokens):
        if k:
            parts.append("" if _is_cjk(token) and _is_cjk(tokens[k - 1]) else r"\s+")
        parts.append(re.escape(token))
    head = "" if _is_cjk(tokens[0]) else r"(?<!\w)"
    tail = "" if _is_cjk(tokens[-1]) else r"(?!\w)"
    return re.compile(head + "".join(parts) + tail)


def _keywords(tokens: list[str]) -> set[tuple[str, ...]]:
    """Content words, and pairs of adjacent CJK characters (Chinese has no spaces to find words by)."""
    words = {(t,) for t in tokens if not _is_cjk(t) and t not in _STOPWORDS and (len(t) > 2 or t.isdigit())}
    return words | {(a, b) for a, b in zip(tokens, tokens[1:]) if _is_cjk(a) and _is_cjk(b)}


def _option_patterns(options: Sequence[str]) -> list[list[re.Pattern]]:
    """Per option: its whole text, and each of its own keywords (one no other option has)."""
    tokens = [tokenize(o) for o in options]
    keywords = [_keywords(t) for t in tokens]
    patterns = []
    for k, toks in enumerate(tokens):
        own = sorted(keywords[k].difference(*(kw for q, kw in enumerate(keywords) if q != k)))
        patterns.append(([_tokens_pattern(toks)] if toks else []) + [_tokens_pattern(w) for w in own])
    return patterns


def option_mentions(text: str, options: Sequence[str]) -> list[tuple[int, str]]:
    """(position, letter) of every option the text names, in order of position.

    An option is named by its letter ("(B)", "option B", "B."), its whole text or one of its own keywords (a
    content word that no other option contains: "yellow" names "The light turns yellow" among "The light
    turns red", ...; in Chinese a pair of adjacent characters), case- and punctuation-insensitively on whole
    words. A mention inside a longer mention
    of another option ("red" inside "dark red") does not count.
    """
    valid = LETTERS[: len(options)]
    spans = []
    flat = re.sub(r"[\W_]", " ", text.lower())  # same length as text, so positions agree with the letter scan
    for k, patterns in enumerate(_option_patterns(options)):
        spans += [(m.start(), m.end(), valid[k]) for p in patterns for m in p.finditer(flat)]
    for m in _LETTER_RE.finditer(text):
        letter = next(g for g in m.groups() if g)
        if letter in valid:
            spans.append((m.start(), m.end(), letter))
    kept = {
        (start, letter)
        for start, end, letter in spans
        if not any(
            o[0] <= start and end <= o[1] and o[2] != letter and o[1] - o[0] > end - start for o in spans
        )
    }
    return sorted(kept)


def answer_consistency(steps: Sequence[str], pred_answer: str | None, options: Sequence[str] | None) -> float:
    """1 when the trace's conclusion supports the given answer, else 0 (also when there is no answer).
    ``steps`` are the trace's steps (the reward's segmentation of the output).

    Multiple choice: the conclusion is the last option the trace names (:func:`option_mentions`), searching
    the steps from the last one back; it must be the option given in ``<answer>``. Free-form answers: the last step
    contains the normalized answer.
    """
    if not pred_answer or not steps:
        return 0.0
    if options:
        for step in reversed(steps):
            mentions = option_mentions(step, options)
            if mentions:
                return float(mentions[-1][1] == pred_answer)
        return 0.0
    answer = normalize(pred_answer)
    return float(
        bool(answer) and re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", normalize(steps[-1])) is not None
    )


def coverage_and_order(
    similarity: np.ndarray, threshold: float = COVERAGE_THRESHOLD
) -> tuple[float, float | None]:
    """``step_coverage`` and ``temporal_order`` from a [n_ref, n_pred] similarity matrix (see the module doc)."""
    n_ref = similarity.shape[0]
    if n_ref == 0 or similarity.shape[1] == 0:
        return 0.0, None
    best = similarity.max(axis=1)
    where = similarity.argmax(axis=1)
    covered = np.flatnonzero(best >= threshold)
    coverage = len(covered) / n_ref
    if len(covered) < 2:
        return coverage, None
    j = where[covered]
    a, b = np.triu_indices(len(covered), k=1)
    order = np.where(j[a] < j[b], 1.0, np.where(j[a] == j[b], 0.5, 0.0)).mean()
    return coverage, float(order)


def reference_metrics(
    text: str,
    ground_truth: Mapping[str, Any],
    threshold: float = COVERAGE_THRESHOLD,
    preset: str | None = None,
) -> dict:
    """The MOSS-Video metrics of one model output (``temporal_order`` absent when undefined) and details
    for reports: the parsed answer, the steps and the alignment. ``preset``: the reward's, else
    :data:`PRESET_ENV` or the default."""
    preset = preset or os.environ.get(PRESET_ENV) or "default"
    scores, alignment = score_and_align(text, ground_truth, resolve_config(preset=preset))
    coverage, order = coverage_and_order(alignment.similarity, threshold)
    pred = scores["pred_answer"] or None
    metrics = {
        "accuracy": scores["acc"],
        "format_rate": scores["format"],
        "trace_dtw": scores["process"],
        "step_coverage": coverage,
        "answer_consistency": answer_consistency(alignment.pred_steps, pred, ground_truth.get("options")),
    }
    if order is not None:
        metrics["temporal_order"] = order
    details = {
        "pred_answer": pred,
        "reason": scores["reason"],
        "dtw_normalized": scores["dtw_normalized"],
        "pred_steps": alignment.pred_steps,
        "ref_steps": alignment.ref_steps,
        "path": [list(p) for p in alignment.path],
        "similarity": np.round(alignment.similarity, 4).tolist(),
    }
    return {"metrics": metrics, "details": details}


def reference_free_metrics(text: str, answer: str, options: Sequence[str] | None) -> dict:
    """Metrics of one model output against the gold answer only (MVBench, MMVU)."""
    pred = parse_answer(answer_blocks(text), answer, options)
    steps = segment_steps(text)
    metrics = {
        "accuracy": float(is_correct(pred, answer, options)),
        "format_rate": float(format_ok(text, steps)),
        "answer_consistency": answer_consistency(
            steps, pred, options if is_choice(answer, options) else None
        ),
        "trace_length": float(len(steps)),
    }
    return {"metrics": metrics, "details": {"pred_answer": pred, "pred_steps": steps}}


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, iters: int = BOOTSTRAP_ITERS, seed: int = BOOTSTRAP_SEED
) -> list[float]:
    """Percentile bootstrap confidence interval ``[low, high]`` of the mean, seeded (reproducible), rounded to
    4 decimals (lmms-eval prints the list as is)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = np.empty(iters)
    chunk = max(1, min(iters, 5_000_000 // x.size))  # bound the index matrix to ~40 MB
    for start in range(0, iters, chunk):
        stop = min(iters, start + chunk)
        means[start:stop] = x[rng.integers(0, x.size, size=(stop - start, x.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]
