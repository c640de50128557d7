"""The MOSS-ChatV reward: accuracy + format + DTW process reward - padding penalty (+ plugin terms).

``compute_score`` follows verl's custom-reward contract. Bad configuration or ground truth raises at once;
model output never does: whatever it is, it gets a score and a ``reason``.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..output_format import ANSWER_OPEN, answer_blocks, format_ok
from ..single_flight import SingleFlight
from . import registry, semantic, static_vectors
from .answer import is_correct, parse_answer
from .config import RewardConfig
from .dtw import _dtw, _monotone
from .ground_truth import GroundTruth, cache_key, parse_ground_truth
from .lexicon import analyse, conflicts
from .timing import reference_times, time_factor

log = logging.getLogger(__name__)

# More answer blocks than this are "multiple answers" without reading them all (a flood of tags stays cheap).
MAX_ANSWER_BLOCKS = 8

# Step similarity below which two steps are about different things: whether one denies what the other asserts
# changes nothing there (and is not looked up).
ABOUT_THE_SAME = 0.25
# Step similarity from which a predicted step counts as restating a reference step (negated, or out of place).
RESTATES = 0.5

# Every result has exactly these keys (plus one per configured extra term), whatever the input.
RESULT_KEYS = (
    "score", "acc", "format", "process", "padding", "dtw_distance", "dtw_normalized",
    "n_pred_steps", "n_ref_steps", "pred_answer", "reason",
)  # fmt: skip


def process_reward(normalized_distance: float, alpha: float) -> float:
    """T(D) = (exp(-alpha D) - exp(-alpha)) / (1 - exp(-alpha)): T(0) = 1, T(1) = 0, sharper as alpha grows;
    alpha = 0 is the straight line 1 - D and a negative alpha bends it the other way (lenient)."""
    d = min(1.0, max(0.0, normalized_distance))
    if abs(alpha) < 1e-9:
        return 1.0 - d
    # alpha is within [-100, 100] (config.MAX_ALPHA), far from exp()'s overflow at 709; the paper preset needs
    # exactly this expression
    return (math.exp(-alpha * d) - math.exp(-alpha)) / (1.0 - math.exp(-alpha))


def padding_share(unused: float, tolerance: float) -> float:
    """Penalty in [0, 1] for the share of the trace the alignment did not use, beyond the free tolerance (the
    scorer charges filler, steps related to no reference step, from its first character instead)."""
    return max(0.0, unused - tolerance) / (1.0 - tolerance)


@njit(cache=True, nogil=True)
def _unmatched_share(sim, lengths, related):
    """Shares of the trace's characters that no reference step accounts for: all of them, and those of filler,
    steps after the first aligned one that relate to no reference step (``related`` false: "Let me check
    again.", "The camera does not move."); a look around before the first aligned step is exploration.

    Each reference step accounts for at most one predicted step: a monotone one-to-one matching with the
    largest total similarity (pairs with similarity 0 never match). Repeating or restating steps, or adding
    unrelated ones, therefore only grows the unmatched share; a paraphrase of the reference leaves none.
    """
    n, m = sim.shape
    best = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            b = max(best[i - 1, j], best[i, j - 1])
            if sim[i - 1, j - 1] > 0:
                b = max(b, best[i - 1, j - 1] + sim[i - 1, j - 1])
            best[i, j] = b
    matched = np.zeros(m, np.bool_)
    i, j = n, m
    while i > 0 and j > 0:
        if best[i, j] == best[i - 1, j]:
            i -= 1
        elif best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            matched[j - 1] = True
            i -= 1
            j -= 1
    total = lengths.sum()
    if total == 0:
        return 0.0, 0.0
    used = 0
    filler = 0
    started = False
    for k in range(m):
        if matched[k]:
            used += lengths[k]
            started = True
        elif started and not related[k]:
            filler += lengths[k]
    return 1.0 - used / total, filler / total


@dataclass(frozen=True, eq=False)
class Reference:
    """A ground truth with its steps prepared for the configured similarity (built once per reference)."""

    truth: GroundTruth
    prepared: Any
    claims: tuple  # per step: its lexicon.analyse (what it asserts and denies)
    times: list  # per step: (span, times its text states)
    together: tuple  # (first, last + 1) of each run of two or more consecutive steps over the same span

    @property
    def n_steps(self) -> int:
        return len(self.truth.trace)


@dataclass(frozen=True)
class Alignment:
    """How a model trace lines up with a reference: for reports, metrics and pictures."""

    pred_steps: list[str]
    ref_steps: list[str]
    similarity: np.ndarray  # [n_ref, n_pred]
    distance: float
    path_rows: np.ndarray  # the path's cells as two index arrays (the scorer needs no Python tuples)
    path_cols: np.ndarray
    order: np.ndarray | None = None  # the order the reference steps were aligned in (:func:`time_order`)

    @property
    def aligned_similarity(self) -> np.ndarray:
        """The similarity with its rows in the order they were aligned in."""
        return self.similarity if self.order is None else self.similarity[self.order]

    @property
    def path(self) -> list[tuple[int, int]]:
        """The (reference step, predicted step) cells of the best path, from start to end."""
        return list(zip(self.path_rows.tolist(), self.path_cols.tolist()))

    @property
    def normalized_distance(self) -> float:
        """The distance per reference step, within [0, 1]: what the process reward is a function of."""
        return min(1.0, max(0.0, self.distance / len(self.ref_steps)))


@dataclass(frozen=True)
class TermContext:
    """What a plugin reward term sees."""

    solution: str
    steps: list[str]
    truth: GroundTruth
    alignment: Alignment | None
    pred_answer: str | None
    acc: float
    format: float
    process: float
    extra_info: Mapping | None


_CONFIGS: dict[tuple, RewardConfig] = {}  # typed overrides -> configuration; bounded by clearing when full


def _typed(value: Any) -> tuple:
    """``value`` with its type, also inside lists and mappings: 1 and True, or 2 and 2.0, are equal (with equal
    hashes) to Python, so an untyped cache key would let one stand in for the other, valid or not."""
    if isinstance(value, (list, tuple)):
        return type(value), tuple(_typed(v) for v in value)
    if isinstance(value, Mapping):
        return type(value), tuple(sorted((k, _typed(v)) for k, v in value.items()))
    return type(value), value


def resolve_config(**overrides: Any) -> RewardConfig:
    """The defaults with keyword overrides applied; cached for repeated identical (also in type) kwargs."""
    try:
        key = tuple(sorted((name, _typed(value)) for name, value in overrides.items()))
        return _CONFIGS[key]
    except TypeError:  # unhashable or unsortable values (e.g. OmegaConf containers)
        return RewardConfig.from_kwargs(**overrides)
    except KeyError:
        config = RewardConfig.from_kwargs(**overrides)
        if len(_CONFIGS) >= 64:
            _CONFIGS.clear()
        _CONFIGS[key] = config
        return config


def _reference(ground_truth_json: str | bytes, similarity) -> Reference:
    truth = parse_ground_truth(ground_truth_json)
    texts = truth.step_texts
    spans = [s.t for s in truth.trace]
    times = reference_times(texts, spans)
    return Reference(truth, similarity.prepare(texts), tuple(analyse(t) for t in texts), times, _same_span_runs(spans))


def _same_span_runs(spans: list) -> tuple:
    runs, start = [], 0
    for k in range(1, len(spans) + 1):
        if k == len(spans) or spans[k] is None or spans[k] != spans[start]:
            if k - start > 1 and spans[start] is not None:
                runs.append((start, k))
            start = k
    return tuple(runs)


def time_order(sim: np.ndarray, ref: Reference) -> np.ndarray | None:
    """The order in which to align the reference's steps: as listed, except that steps over the same span
    (the reference's times do not order them) take the order in which the prediction states them (the column
    of their best match, for those it restates). None when nothing moves."""
    if not ref.together:
        return None
    order = np.arange(sim.shape[0])
    for lo, hi in ref.together:
        block = sim[lo:hi]
        stated = np.flatnonzero(block.max(axis=1) >= RESTATES)
        if stated.size > 1:
            slots = lo + stated
            order[slots] = slots[np.argsort(block[stated].argmax(axis=1), kind="stable")]
    return None if np.array_equal(order, np.arange(sim.shape[0])) else order


# Prepared references by (content, similarity component): keyed on the component itself, not its name, so a
# name registered again never gets what the previous component prepared. Single-flight: a GRPO group's rollouts arrive together, and
# those that miss at once wait for the first one's preparation instead of each preparing the same reference.
REFERENCES = SingleFlight()
REFERENCE_CACHE_SIZE = 4096


def prepare_reference(ground_truth: Any, config: RewardConfig) -> Reference:
    """Parse a ground truth and prepare its steps: once per distinct content, also across threads."""
    if isinstance(ground_truth, Reference):
        return ground_truth
    key, similarity = cache_key(ground_truth), registry.similarity(config)
    return REFERENCES.get((key, similarity), lambda: _reference(key, similarity), REFERENCE_CACHE_SIZE)


@functools.lru_cache(maxsize=1024)
def _capped(config: RewardConfig, n_steps: int, longest: int, chars: int) -> RewardConfig:
    # Not through RewardConfig's checks: their bounds are on what an option may ask for, while these caps follow
    # the data (a long reference costs what it costs; `moss data validate` warns about such traces).
    capped = copy.copy(config)
    for name, value in (("max_steps", 2 * n_steps), ("max_step_chars", 2 * longest), ("max_trace_chars", 3 * chars)):
        object.__setattr__(capped, name, max(getattr(config, name), value))
    return capped


def segmentation_config(config: RewardConfig, ref: Reference) -> RewardConfig:
    """The configuration the segmenter sees: with ``caps_follow_reference`` its step and character caps leave
    room for twice the reference's steps (and three times its text), so a long reference matches itself."""
    if not config.caps_follow_reference:
        return config
    texts = ref.truth.step_texts
    lengths = [len(t) for t in texts]
    return _capped(config, len(texts), max(lengths), sum(lengths))


def segment(text: str, ref: Reference, config: RewardConfig) -> list[str]:
    return registry.segmenter(config)(text, segmentation_config(config, ref))


_NO_PATH = np.zeros(0, np.int64)


def step_similarity(steps: list[str], ref: Reference, config: RewardConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """[n_ref, n_pred]: the configured similarity s, blended with embedding cosine (``semantic_weight``), scaled
    by the stated times' agreement (``time_weight``); where one step denies what the other asserts
    (``polarity``; :func:`lexicon.conflicts`: "the door does not open" or "stays closed" against "the door
    opens") it becomes 0 when one restates the other so (s >= :data:`RESTATES`), else s (1 - s): steps that
    share little keep some of it. A negation of another claim ("nothing is left in the cup" for "the cup is
    empty") changes nothing. Also returns, for the conflicting cells, s itself (what a negated step
    contradicts)."""
    sim = registry.similarity(config).matrix(ref.prepared, steps, config)
    if config.semantic_weight:
        w = config.semantic_weight
        sim = (1.0 - w) * sim + w * semantic.matrix(config.embedding_model, ref.truth.step_texts, steps)
    if config.time_weight:
        factor = time_factor(ref.times, steps, config.time_weight)
        if factor is not None:
            sim = sim * factor
    if not config.polarity:
        return sim, None
    pred = [analyse(s) for s in steps]
    flipped = conflicting(ref.claims, pred, sim)
    if flipped is None:
        return sim, None
    kept = np.where(sim >= RESTATES, 0.0, sim * (1.0 - sim))
    return np.where(flipped, kept, sim), np.where(flipped, sim, 0.0)


def conflicting(ref: Sequence, pred: Sequence, sim: np.ndarray) -> np.ndarray | None:
    """[n_ref, n_pred]: where one of two steps about the same thing denies what the other asserts; None where
    none does (most rollouts deny nothing, and are not looked at further)."""
    pred_denies = np.fromiter((bool(a.denied) for a in pred), np.bool_, len(pred))
    ref_denies = np.fromiter((bool(a.denied) for a in ref), np.bool_, len(ref))
    if not pred_denies.any() and not ref_denies.any():
        return None
    out = np.zeros(sim.shape, np.bool_)
    rows, cols = np.nonzero((sim >= ABOUT_THE_SAME) & (ref_denies[:, None] | pred_denies[None, :]))
    for i, j in zip(rows.tolist(), cols.tolist()):
        out[i, j] = conflicts(ref[i], pred[j])
    return out if out.any() else None


@njit(cache=True, nogil=True)
def _misplaced(sim, rows, cols, restates):
    """How much better the predicted steps restate a reference step (similarity >= ``restates``) away from
    where the alignment puts that step (outside the neighbouring reference steps' matches) than they are paid
    where they are: a reversed trace states every step, only in the wrong places; one that repeats itself to
    line every step up in some copy states the others out of order."""
    n_ref, n_pred = sim.shape
    first = np.full(n_ref, n_pred)
    last = np.full(n_ref, -1)
    paid = np.zeros(n_pred)
    for k in range(rows.size):
        first[rows[k]] = min(first[rows[k]], cols[k])
        last[rows[k]] = max(last[rows[k]], cols[k])
        paid[cols[k]] = max(paid[cols[k]], sim[rows[k], cols[k]])
    total = 0.0
    for j in range(n_pred):
        i = 0
        for q in range(1, n_ref):
            if sim[q, j] > sim[i, j]:
                i = q
        if sim[i, j] < restates or sim[i, j] <= paid[j]:
            continue
        lo = -1
        for q in range(i):
            lo = max(lo, last[q])
        hi = n_pred
        for q in range(i + 1, n_ref):
            hi = min(hi, first[q])
        if not lo < j < hi:
            total += sim[i, j] - paid[j]
    return total


def penalties(sim: np.ndarray, rows: np.ndarray, cols: np.ndarray, flipped: np.ndarray | None,
              config: RewardConfig) -> float:
    """What the trace asserts against the reference, in reference steps (added to the alignment's distance).

    Order: each predicted step that restates a reference step in the wrong place costs ``order_penalty`` times
    its similarity beyond what it is paid where it is (``_misplaced``). Negation: a predicted step that restates
    a reference step negated (similarity >= :data:`RESTATES` but for the polarity) costs ``negation_penalty``
    times its lead over its best same-polarity match ("the light does not turn red" against "it turns red").
    """
    total = 0.0
    if config.order_penalty:
        total += config.order_penalty * _misplaced(sim, rows, cols, RESTATES)
    if config.negation_penalty and flipped is not None:
        negated = flipped.max(axis=0)
        lead = np.where(negated >= RESTATES, negated - sim.max(axis=0), 0.0)
        total += config.negation_penalty * float(np.maximum(lead, 0.0).sum())
    return total


def _align_steps(steps: list[str], ref: Reference, config: RewardConfig) -> Alignment:
    """Similarity matrix and alignment of the steps (no steps: every reference step unmatched, cost 1)."""
    if not steps:
        return Alignment([], ref.truth.step_texts, np.zeros((ref.n_steps, 0)), float(ref.n_steps), _NO_PATH, _NO_PATH)
    sim, flipped = step_similarity(steps, ref, config)
    order = time_order(sim, ref) if config.time_order else None
    aligned, flips = (sim, flipped) if order is None else (sim[order], None if flipped is None else flipped[order])
    cost = np.maximum(1.0 - aligned, 0.0)
    if config.alignment == "dtw":
        distance, rows, cols = _dtw(cost, config.max_jump)
    else:
        distance, rows, cols = _monotone(cost)
    if config.order_penalty or config.negation_penalty:
        distance += penalties(aligned, rows, cols, flips, config)
    if order is not None:
        rows = order[rows]
    return Alignment(steps, ref.truth.step_texts, sim, float(distance), rows, cols, order)


def _as_text(solution: Any) -> str:
    if isinstance(solution, str):
        return solution
    if isinstance(solution, bytes):
        return solution.decode("utf-8", errors="replace")
    return "" if solution is None else str(solution)


def _reasons(text: str, blocks: list[str], pred: str | None, fmt: bool, n_steps: int) -> str:
    reasons = []
    if not text.strip():
        reasons.append("empty_output")
    elif not blocks:
        reasons.append("truncated_answer" if ANSWER_OPEN in text else "no_answer")
    elif pred is None:
        reasons.append("multiple_answers" if len(blocks) > 1 else "unreadable_answer")
    if text.strip() and not n_steps:
        reasons.append("no_steps")
    if text.strip() and not fmt:
        reasons.append("bad_format")
    return ",".join(reasons) or "ok"


def _score(text: str, ref: Reference, config: RewardConfig, extra_info: Mapping | None) -> tuple[dict, Alignment]:
    truth = ref.truth
    steps = segment(text, ref, config)
    blocks = answer_blocks(text, limit=MAX_ANSWER_BLOCKS + 1)
    pred = parse_answer(blocks, truth.answer, truth.options) if len(blocks) <= MAX_ANSWER_BLOCKS else None
    acc = float(is_correct(pred, truth.answer, truth.options))
    fmt = format_ok(text, steps)

    alignment = _align_steps(steps, ref, config)
    distance = alignment.distance
    unused = filler = 0.0
    if steps:
        sim = alignment.aligned_similarity
        related = sim.max(axis=0) >= config.filler_similarity if config.filler_similarity else np.ones(len(steps), np.bool_)
        lengths = np.fromiter((len(s) for s in steps), np.int64, len(steps))
        unused, filler = _unmatched_share(sim, lengths, related)
    normalized = alignment.normalized_distance
    process = process_reward(normalized, config.alpha)
    padding = max(filler, padding_share(unused, config.padding_tolerance))
    paid = process if (acc or not config.gate_process) else 0.0
    score = config.acc_weight * acc + config.format_weight * fmt + config.process_weight * paid
    score -= config.padding_weight * padding

    result = {
        "score": 0.0, "acc": acc, "format": float(fmt), "process": process, "padding": padding,
        "dtw_distance": float(distance), "dtw_normalized": normalized, "n_pred_steps": len(steps),
        "n_ref_steps": ref.n_steps, "pred_answer": pred or "", "reason": _reasons(text, blocks, pred, fmt, len(steps)),
    }  # fmt: skip
    observers = registry.observers()
    if config.extra_terms or observers:
        ctx = TermContext(text, steps, truth, alignment if steps else None, pred, acc, float(fmt), process, extra_info)
        for name, weight in config.extra_terms:
            value = float(registry.reward_term(name, config)(ctx))
            result[name] = value
            score += weight * value
    result["score"] = score
    if observers:
        observers(result=result, ctx=ctx, config=config)
    return result, alignment


def _failed(ref: Reference, config: RewardConfig, error: BaseException) -> dict:
    log.warning("moss reward: scoring a model output failed; it gets 0 (%r)", error, exc_info=True)
    result = dict.fromkeys(RESULT_KEYS, 0.0)
    result.update(n_pred_steps=0, n_ref_steps=ref.n_steps, pred_answer="", reason=f"error:{type(error).__name__}")
    result["dtw_distance"], result["dtw_normalized"] = float(ref.n_steps), 1.0
    for name, _ in config.extra_terms:
        result[name] = 0.0
    return result


def _score_guarded(solution: Any, reference: Reference, config: RewardConfig, extra_info: Mapping | None):
    try:
        return _score(_as_text(solution), reference, config, extra_info)
    except Exception as e:  # a bug must not kill a training step; it is logged and visible in "reason"
        return _failed(reference, config, e), _align_steps([], reference, config)


def score_solution(solution: Any, reference: Reference, config: RewardConfig, extra_info: Mapping | None = None) -> dict:
    """Score one model output against a prepared reference; never raises on the output."""
    return _score_guarded(solution, reference, config, extra_info)[0]


def load_models(config: RewardConfig) -> None:
    """Load the models the configuration scores with (the "facts" similarity's word vectors, the embedding
    model) before scoring, so a missing package or model fails loudly, not per rollout."""
    if config.similarity == "facts":
        static_vectors.load(static_vectors.STATIC_MODEL)
    if config.semantic_weight:
        semantic.model(config.embedding_model)


def score_and_align(solution: Any, ground_truth: Any, config: RewardConfig | None = None) -> tuple[dict, Alignment]:
    """:func:`compute_score`'s result and the alignment it was computed from (one segmentation, one alignment)."""
    config = config or RewardConfig()
    load_models(config)
    return _score_guarded(solution, prepare_reference(ground_truth, config), config, None)


def compute_score(
    data_source: str | None,
    solution_str: Any,
    ground_truth: Any,
    extra_info: Mapping | None = None,
    **kwargs: Any,
) -> dict:
    """verl's custom reward function: ``{"score": float, "acc": ..., "process": ..., ...}``.

    ``ground_truth`` is ``{"answer": "B", "trace": [...], "options": [...]}`` or its JSON string; ``kwargs``
    override :class:`RewardConfig` fields (alpha, weights, max_jump, gate_process, ...).
    """
    config = resolve_config(**kwargs)
    load_models(config)
    return score_solution(solution_str, prepare_reference(ground_truth, config), config, extra_info)


def steps_or_none(solution: Any, ref: Reference, config: RewardConfig) -> list[str]:
    """The steps of ``solution``, or none when a (plugin) segmenter fails: only to gather texts to embed ahead
    of scoring, which then reports the failure for that rollout."""
    try:
        return segment(_as_text(solution), ref, config)
    except Exception:  # a broken plugin segmenter: scoring reports it for this rollout
        return []


def _batch_key(truth: Any) -> Any:
    """What tells a batch's references apart: their content, never their id(), since a datasets column or a
    generator hands out fresh (or refilled) dicts and a freed dict's id comes back for a later row. A pickle, not
    :func:`cache_key`'s JSON: it is faithful to types and ten times faster, and it runs once per rollout."""
    if isinstance(truth, (str, bytes, Reference)):
        return truth
    try:
        return pickle.dumps(truth, pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: the JSON key, or the GroundTruthError that says why it is unusable
        return cache_key(truth)


def score_batch(
    solutions: Sequence[Any],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping | None] | None = None,
    **kwargs: Any,
) -> list[dict]:
    """Score many rollouts; each distinct reference (a GRPO group shares one) is parsed and tokenized once, and
    with ``semantic_weight`` every distinct step text of the batch is embedded in one batched call."""
    if len(solutions) != len(ground_truths):
        raise ValueError(f"{len(solutions)} solutions but {len(ground_truths)} ground truths")
    if extra_infos is not None and len(extra_infos) != len(solutions):
        raise ValueError(f"{len(solutions)} solutions but {len(extra_infos)} extra_infos")
    config = resolve_config(**kwargs)
    load_models(config)
    prepared: dict[Any, Reference] = {}
    refs = []
    for truth in ground_truths:
        key = _batch_key(truth)
        ref = prepared.get(key)
        if ref is None:
            ref = prepared[key] = prepare_reference(truth, config)
        refs.append(ref)
    if config.semantic_weight:  # one batched encode of every distinct step text of the batch
        texts = [t for ref in prepared.values() for t in ref.truth.step_texts]
        texts += [t for solution, ref in zip(solutions, refs) for t in steps_or_none(solution, ref, config)]
        semantic.prefetch(config.embedding_model, texts)
    return [score_solution(solution, ref, config, extra_infos[k] if extra_infos is not None else None)
            for k, (solution, ref) in enumerate(zip(solutions, refs))]  # fmt: skip
