"""MOSS-Video samples from videos with timestamped segment captions (``moss data build``).

For each video, cuts are placed at segment boundaries: the model may see the video up to the cut
(``observed_until``), and the question asks for what comes after it:

- ``next_state``: what happens right after the cut (the next segment's caption);
- ``final_state``: how the video ends (the last segment's caption; needs two or more segments after the cut);
- ``event_order``: the order of the next three segments, listed shuffled (needs three or more).

Distractors for the caption tasks are other segments of the same video (hard negatives: what already
happened, or what happens later) and segments of other videos of the same split, never an option whose
ROUGE-L F1 with another option reaches ``max_similarity`` (near-duplicates of the answer would make two
options right). The reference trace is the observed segments as timestamped steps, ending with an
inference step at the cut that states the answer. A long video's observed segments are condensed
(:func:`condense`) to at most ``max_trace_steps`` steps and ``max_trace_chars`` characters, so the whole
reference fits in what the reward reads from a model's trace (a reference of thousands of steps would score
~0.2 against itself under the paper's caps).

Everything random is seeded per video (``seed`` and the video id), so the result is the same in-process and
on Ray, in any task order. Answer letters are balanced per split and task type (a seeded shuffle of each block
of letters). The train/test split is by video: no video appears in both.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import permutations
from math import factorial
from pathlib import Path

from ..options import check, integer, number
from ..output_format import LETTERS, normalize
from ..reward.rouge import similarity_matrix
from ..reward.segment import DEFAULT_MAX_STEP_CHARS, DEFAULT_MAX_STEPS, DEFAULT_MAX_TRACE_CHARS
from .balance import assign_splits, balanced_positions, place_answer
from .clips import ClipError, cut_clips, probe_video
from .export import place
from .io import save_samples, validate_rows
from .parallel import RayOptions, run_map
from .paths import remove_stale_temps, write_text_atomic
from .segments import Segment, VideoAnnotation, fit
from ..sample import Sample, TraceStep, ValidationError

BUILD_TASKS = ("next_state", "final_state", "event_order")
_EVENTS = 3  # events to order in an event_order question
_ROUGE_L = (0.0, 0.0, 1.0)
_POOL_TRIES = 64  # pool captions tried per sample before giving up on cross-video distractors


class BuildError(ValueError):
    """Bad build configuration or unusable input; the message says where and what to do."""


def _tasks(value) -> tuple[str, ...]:
    if not value or not all(t in BUILD_TASKS for t in value):
        raise ValueError(f"must be some of {list(BUILD_TASKS)}")
    return tuple(value)


BUILD_RULES = {
    "tasks": _tasks,
    "n_options": integer(2, len(LETTERS)),
    "test_fraction": number(0, 1, high_open=True),
    "min_observed": number(0, low_open=True),  # seconds
    "max_per_video": integer(1),
    "pool_size": integer(1),
    "max_similarity": number(0, 1, low_open=True),
    "max_trace_steps": integer(2),
    "max_trace_chars": integer(200),
}


@dataclass(frozen=True)
class BuildConfig:
    seed: int = 0
    test_fraction: float = 0.2
    tasks: tuple[str, ...] = BUILD_TASKS
    max_per_video: int = 8  # samples per video at most (the paper: ~9.6 per video)
    n_options: int = 4
    same_video_distractors: int = 2  # at most this many distractors from the video itself
    max_similarity: float = 0.6  # ROUGE-L F1 between two options must stay below this
    min_observed: float = 1.0  # seconds of video the model sees at least
    pool_size: int = 5000  # captions per split kept as cross-video distractors
    cut_clips: bool = False  # write each observed part as its own clip (no future frames in the file)
    copy_videos: bool = False  # copy source videos into the output folder instead of symlinking them
    skip_invalid: bool = False  # skip unusable videos (counted) instead of stopping at the first
    source: str = "annotations"
    # Reference trace size, the inference step included: half of what the reward reads from a prediction, so a
    # model restating the reference still has room to explore (docs/reward.md, "Long references").
    max_trace_steps: int = DEFAULT_MAX_STEPS // 2
    max_trace_chars: int = DEFAULT_MAX_TRACE_CHARS // 2

    def __post_init__(self):
        check(self, BUILD_RULES, "build option ", BuildError)


@dataclass(frozen=True)
class VideoJob:
    annotation: VideoAnnotation
    split: str


@dataclass(frozen=True)
class BuildContext:
    """What every per-video task needs besides its own video (shipped to Ray workers once)."""

    config: BuildConfig
    out_dir: Path
    pools: dict[str, tuple[tuple[str, str], ...]]  # split -> ((video_id, caption), ...)


@dataclass
class VideoResult:
    where: str
    samples: list[Sample]  # the answer is option A here; letters are balanced afterwards
    error: str = ""  # why the whole video could not be used
    dropped: Counter = field(default_factory=Counter)  # cut candidates dropped, by reason
    changes: Counter = field(default_factory=Counter)  # segment policy changes against the probed end


@dataclass
class BuildReport:
    videos: int = 0
    samples: Counter = field(default_factory=Counter)  # split -> n
    tasks: Counter = field(default_factory=Counter)
    letters: Counter = field(default_factory=Counter)
    videos_per_split: Counter = field(default_factory=Counter)
    skipped_videos: Counter = field(default_factory=Counter)  # offending field -> n
    first_errors: list[str] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    segment_policy: Counter = field(default_factory=Counter)  # what the dataset importers' policy changed
    task_videos: Counter = field(default_factory=Counter)  # task type -> videos with samples of it
    rewrite: dict = field(default_factory=dict)
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    written: list[Sample] = field(default_factory=list, repr=False)  # the samples of ``files``, validated

    def to_json(self) -> dict:
        return {
            f.name: dict(v) if isinstance(v := getattr(self, f.name), Counter) else v
            for f in fields(self)
            if f.name != "written"
        }


def build_video(job: VideoJob, ctx: BuildContext) -> VideoResult:
    """All samples of one video: probe it, pick cuts, write questions, options and traces, place the media.

    Runs in a Ray worker or in-process alike; problems come back in the result instead of raising, so that one
    bad video does not abort a cluster run (the driver decides whether it is fatal).
    """
    ann, config = job.annotation, ctx.config
    result = VideoResult(ann.where, [])
    try:
        info = probe_video(ann.video)
    except ClipError as e:
        result.error = f"video: {e}"
        return result
    tolerance = max(0.5, 2 / info.fps) if info.fps > 0 else 0.5
    if ann.duration is not None and abs(ann.duration - info.duration) > max(tolerance, 0.05 * info.duration):
        result.error = (
            f"duration: the annotation says {ann.duration} s, but {ann.video} lasts {info.duration:.2f} s"
        )
        return result
    if ann.fit_to_video:  # a dataset import: its policy drops or cuts what lies past the video's end
        segments, result.changes = fit(ann.segments, info.end)
        ann = replace(ann, segments=segments)
    elif ann.segments[-1].end > info.end + tolerance:  # segment times are on the container's clock, like cuts
        result.error = (
            f"segments: they end at {ann.segments[-1].end} s, after {ann.video} ends "
            f"({info.end:.2f} s); are the times in seconds?"
        )
        return result
    rng = _rng(config.seed, "video", ann.video_id)
    candidates = _candidates(ann, config, info.start, info.end)
    if not candidates:
        result.dropped["no cut leaves enough observed and future segments"] += 1
        return result
    chosen = sorted(
        rng.sample(candidates, min(config.max_per_video, len(candidates))),
        key=lambda c: (c[0], BUILD_TASKS.index(c[1])),
    )
    for k, task in chosen:
        try:
            result.samples.append(_sample(ann, k, task, job.split, ctx, rng))
        except _Dropped as e:
            result.dropped[str(e)] += 1
    try:
        result.samples = _place_media(ann, result.samples, ctx)
    except (ClipError, OSError) as e:
        result.error, result.samples = f"video: {e}", []
    return result


class _Dropped(Exception):
    pass


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256(json.dumps([seed, *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _candidates(ann: VideoAnnotation, config: BuildConfig, start: float, end: float) -> list[tuple[int, str]]:
    """(k, task): cut at the end of segment k-1, so segments[:k] are observed and segments[k:] predicted.
    ``start``/``end``: the video's first frame and end on the container's clock (the clock of the cuts)."""
    n, out = len(ann.segments), []
    needs = {"next_state": 1, "final_state": 2, "event_order": _EVENTS}
    for k in range(1, n):
        cut = ann.segments[k - 1].end
        if cut - start < config.min_observed or cut >= end:
            continue
        out += [(k, task) for task in config.tasks if n - k >= needs[task]]
    return out


def _sample(
    ann: VideoAnnotation, k: int, task: str, split: str, ctx: BuildContext, rng: random.Random
) -> Sample:
    segs, config = ann.segments, ctx.config
    cut = segs[k - 1].end
    stop = f"The video stops at {cut:g} s."
    if task == "event_order":
        question, options, inference = _event_order(segs[k : k + _EVENTS], stop, config, rng)
        answer_segments = list(range(k, k + _EVENTS))
    else:
        target = k if task == "next_state" else len(segs) - 1
        answer = segs[target].caption
        if task == "next_state":
            question = f"{stop} What happens next, right after that moment?"
            inference = f"{stop} Given how the events have developed so far, what happens next is: {answer}"
        else:
            question = f"{stop} How does the video end?"
            inference = f"{stop} Following this development to the end, the video ends with: {answer}"
        same_video = [s.caption for i, s in enumerate(segs) if i != target]
        options = _caption_options(answer, same_video, ann.video_id, ctx.pools.get(split, ()), config, rng)
        answer_segments = [target]
    observed = condense(segs[:k], config.max_trace_steps - 1, config.max_trace_chars - len(inference))
    meta = {
        "video_id": ann.video_id,
        "annotation": _short_where(ann.where),
        "cut_segment": k,
        "n_segments": len(segs),
        "answer_segments": answer_segments,
        "source_video": str(ann.video),
        "trace_source": "captions",
        **({"video_meta": ann.meta} if ann.meta else {}),
    }
    return Sample(
        id=f"{config.source}-{ann.safe_id}-c{k}-{task}",
        video="",
        question=question,
        options=tuple(options),
        answer="A",
        task_type=task,
        observed_until=cut,
        trace=(*observed, TraceStep((cut, cut), inference, {})),
        split=split,
        source=config.source,
        meta=meta,
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rsplit(" ", 1)[0] + "…"


def condense(segments: Sequence[Segment], max_steps: int, max_chars: int) -> tuple[TraceStep, ...]:
    """The segments as trace steps: consecutive segments merged into at most ``max_steps`` steps of even size,
    in order (each step spans its segments' times and joins their captions), and each step cut at a word to
    its share of ``max_chars`` (and to the reward's per-step cap)."""
    groups = max(1, min(max_steps, len(segments)))
    size = -(-len(segments) // groups)
    chunks = [segments[a : a + size] for a in range(0, len(segments), size)]
    limit = max(40, min(DEFAULT_MAX_STEP_CHARS, max_chars // len(chunks) - 1))
    return tuple(
        TraceStep(
            (c[0].start, c[-1].end),
            _shorten(" Then ".join(s.caption.rstrip(".") for s in c) + ".", limit)
            if len(c) > 1
            else _shorten(c[0].caption, limit),
            {},
        )
        for c in chunks
    )


def _event_order(future: Sequence[Segment], stop: str, config: BuildConfig, rng: random.Random):
    """The next events listed shuffled; options are orders of their labels ("2, then 3, then 1")."""
    if config.n_options > factorial(_EVENTS):
        raise _Dropped(
            f"event_order has only {factorial(_EVENTS)} possible orders, fewer than the options asked for"
        )
    events = [s.caption for s in future]
    shown = rng.sample(range(_EVENTS), _EVENTS)  # shown[j]: the true position of the event listed as j+1
    listed = "\n".join(f"{j + 1}. {events[i]}" for j, i in enumerate(shown))
    question = f"{stop} These events happen after that, listed in random order:\n{listed}\nIn which order do they happen?"
    answer = _order_text([shown.index(i) for i in range(_EVENTS)])
    others = [o for o in map(_order_text, permutations(range(_EVENTS))) if o != answer]
    options = [answer, *rng.sample(others, config.n_options - 1)]
    inference = f"{stop} What happens after that, in order ({answer}): " + " Then: ".join(events)
    return question, options, inference


def _order_text(labels: Sequence[int]) -> str:
    return ", then ".join(str(j + 1) for j in labels)


def _caption_options(
    answer: str,
    same_video: list[str],
    video_id: str,
    pool: Sequence[tuple[str, str]],
    config: BuildConfig,
    rng: random.Random,
) -> list[str]:
    """The answer first, then distractors none of which is (near-)identical to an option already chosen."""
    chosen = [answer]

    def fits(text: str) -> bool:
        if normalize(text) in {normalize(c) for c in chosen}:
            return False
        return float(similarity_matrix(chosen, [text], _ROUGE_L).max()) < config.max_similarity

    own = rng.sample(same_video, len(same_video))
    for text in own:
        if len(chosen) > config.same_video_distractors:
            break
        if fits(text):
            chosen.append(text)
    tries = [pool[i] for i in rng.sample(range(len(pool)), min(len(pool), _POOL_TRIES))]
    for other_id, text in tries + [(None, t) for t in own]:  # own captions again only if the pool runs short
        if len(chosen) == config.n_options:
            break
        if other_id != video_id and fits(text):
            chosen.append(text)
    if len(chosen) < config.n_options:
        raise _Dropped("too few distinct distractors")
    return chosen


def _short_where(where: str) -> str:
    file, _, line = where.rpartition(":")
    return f"{Path(file).name}:{line}"


def _place_media(ann: VideoAnnotation, samples: list[Sample], ctx: BuildContext) -> list[Sample]:
    """Give each sample a video path relative to the output folder: a cut clip, or the (linked) source."""
    if not samples:
        return samples
    out = ctx.out_dir.resolve()
    if ctx.config.cut_clips:
        clips = {
            s.observed_until: out
            / "clips"
            / ann.safe_id
            / f"until_{round(s.observed_until * 1000):08d}ms.mp4"
            for s in samples
        }
        remove_stale_temps(out / "clips" / ann.safe_id)
        written = cut_clips(ann.video, clips)
        empty = [c for c, n in written.items() if n == 0]
        if empty:
            raise ClipError(f"{ann.video}: no frame before {empty[0]} s to put in a clip")
        return [
            replace(
                s,
                video=clips[s.observed_until].relative_to(out).as_posix(),
                meta={**s.meta, "clip_frames": written[s.observed_until]},
            )
            for s in samples
        ]
    src = ann.video.resolve()
    if src.is_relative_to(out):
        rel = src.relative_to(out).as_posix()
    else:
        dst = out / "videos" / f"{ann.safe_id}{src.suffix}"
        place(src, dst, link=not ctx.config.copy_videos, copy=shutil.copy2)
        rel = dst.relative_to(out).as_posix()
    return [replace(s, video=rel) for s in samples]


def video_splits(video_ids: Sequence[str], test_fraction: float, seed: int) -> dict[str, str]:
    """video id -> "train" | "test", ``test_fraction`` of them to test, in a seeded order of the sorted ids.

    Depends only on the set of ids and the seed (not on file order or any other option).
    """
    rng = _rng(seed, "split")

    def shuffled(ids: list[str]) -> list[str]:
        rng.shuffle(ids)
        return ids

    ratio = {"train": 1 - test_fraction, "test": test_fraction}
    return assign_splits([sorted(set(video_ids))], ratio, shuffled)


def assign_letters(samples: Sequence[Sample], seed: int) -> list[Sample]:
    """Move each answer (option A when built) to a balanced letter: per split and task type, every block of
    ``n_options`` samples uses each letter once, in a seeded order."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[(s.split, s.task_type, len(s.options))].append(i)
    out = list(samples)
    for (split, task, n), indices in groups.items():
        rng = _rng(seed, "letters", split, task, str(n))
        for i, pos in zip(
            indices, balanced_positions(len(indices), n, n, lambda xs: rng.sample(xs, len(xs)))
        ):
            options, answer = place_answer(samples[i].options[0], samples[i].options[1:], pos)
            out[i] = replace(samples[i], options=options, answer=answer)
    return out


def _pools(annotations: Sequence[VideoAnnotation], splits: dict[str, str], config: BuildConfig) -> dict:
    by_split: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ann in annotations:
        by_split[splits[ann.video_id]] += [(ann.video_id, s.caption) for s in ann.segments]
    pools = {}
    for split, items in by_split.items():
        if len(items) > config.pool_size:
            keep = sorted(_rng(config.seed, "pool", split).sample(range(len(items)), config.pool_size))
            items = [items[i] for i in keep]
        pools[split] = tuple(items)
    return pools


def build_dataset(
    annotations: Sequence[VideoAnnotation],
    out_dir: str | Path,
    config: BuildConfig = BuildConfig(),
    ray: RayOptions | None = None,
    rewrite=None,
) -> BuildReport:
    """Build ``out_dir/{train,test}.jsonl`` (+ ``build_report.json``) from annotated videos.

    ``ray``: run the per-video work as Ray tasks (None: in-process, same code). ``rewrite``: a
    :class:`~moss_plugins.data.rewrite.RewriteConfig` to rewrite the traces through a chat endpoint.
    Raises ValidationError (file:line: field) for an unusable video unless ``config.skip_invalid``. The report's
    ``written`` holds the samples written, validated, in the order :func:`~moss_plugins.data.io.load_samples`
    reads them back.
    """
    start = time.perf_counter()
    out = Path(out_dir).absolute()  # Ray workers need paths that do not depend on their working directory
    _check_outputs(annotations, out, config)
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out, out / "videos"):
        remove_stale_temps(folder)
    report = BuildReport(videos=len(annotations))
    usable = []
    for ann in annotations:  # cheap checks first, before any worker starts
        report.segment_policy.update(ann.changes)
        if len(ann.segments) < 2:  # a dataset import left with too little by its segment policy
            report.segment_policy["videos dropped: fewer than 2 segments"] += 1
        elif ann.video.is_file():
            usable.append(ann)
        elif ann.video.is_symlink():
            _fail(
                report,
                config,
                ValidationError(
                    f"video file {ann.video} is a symlink that leads to no file (a "
                    "loop, or a missing target)",
                    "video",
                    ann.where,
                ),
            )
        else:
            _fail(
                report,
                config,
                ValidationError(
                    f"video file {ann.video} does not exist (paths are relative "
                    "to --video-root, by default the annotation file's folder)",
                    "video",
                    ann.where,
                ),
            )
    # The dataset's own split where it has one; --test-fraction splits the rest.
    splits = video_splits([a.video_id for a in usable if a.split is None], config.test_fraction, config.seed)
    splits.update({a.video_id: a.split for a in usable if a.split is not None})
    ctx = BuildContext(config, out, _pools(usable, splits, config))
    jobs = [VideoJob(a, splits[a.video_id]) for a in usable]
    results = run_map(build_video, jobs, ctx, ray=ray, desc="build", unit="video")
    samples = []
    for job, res in zip(jobs, results):
        report.dropped.update(res.dropped)
        report.segment_policy.update(res.changes)
        if res.error:
            field_name, _, message = res.error.partition(": ")
            _fail(report, config, ValidationError(message, field_name, res.where))
            continue
        if res.samples:
            report.videos_per_split[job.split] += 1
            report.task_videos.update({s.task_type for s in res.samples})
        samples += res.samples
    samples = assign_letters(samples, config.seed)
    if rewrite is not None:
        from .rewrite import rewrite_traces

        samples, rewrite_report = rewrite_traces(samples, rewrite)
        report.rewrite = rewrite_report.to_json()
    written = {}
    for split in ("train", "test"):
        part = [s for s in samples if s.split == split]
        path = save_samples(part, out / f"{split}.jsonl")
        written[path] = part
        report.files.append(str(path))
    # What was written must load; raises naming the file and line otherwise. Checked on the rows in memory (not
    # by reading --out, which may hold other files), in the order load_samples reads the files.
    report.written = validate_rows(
        (f"{path}:{k}", s.to_json(), "jsonl")
        for path in sorted(written)
        for k, s in enumerate(written[path], 1)
    ).samples
    for s in samples:
        report.samples[s.split] += 1
        report.tasks[s.task_type] += 1
        report.letters[s.answer] += 1
    report.seconds = time.perf_counter() - start
    write_text_atomic(out / "build_report.json", json.dumps(report.to_json(), indent=1) + "\n")
    return report


def _check_outputs(annotations: Sequence[VideoAnnotation], out: Path, config: BuildConfig) -> None:
    """Refuse a build whose plan would replace, link over or copy onto a file it reads (compared with symlinks
    resolved, and as named): the split files or the report being an annotation file or a video, a video inside
    ``OUT/clips`` (rewritten by ``--cut-clips``), or ``OUT/videos/<id>`` being the video of another annotation
    (used in place, or named through that path). Videos elsewhere in OUT are used in place, and one that
    ``OUT/videos/<id>`` already is, or links to, is left as it is (:func:`~moss_plugins.data.export.place`)."""
    files = {a.where.rpartition(":")[0] or a.where for a in annotations}  # one per file, not per annotation
    inputs = {Path(f).resolve(): ("annotation file", f) for f in files}
    for a in annotations:  # each video by the file it is and by the path it is named through
        if _resolved(a) is not None:
            inputs.setdefault(_resolved(a), ("video", a.where))
            inputs.setdefault(_entry(a.video), ("video", a.where))
    for name in ("train.jsonl", "test.jsonl", "build_report.json"):
        what, _ = inputs.get((out / name).resolve(), (None, None))
        if what:
            raise BuildError(
                f"--out {out}: writing {name} there would overwrite the {what} {(out / name).resolve()}; "
                "choose another output folder"
            )
    clips = (out / "clips").resolve()
    for video, (what, _) in inputs.items():
        if what == "video" and video.is_relative_to(clips):
            raise BuildError(
                f"--out {out}: the video {video} lies in {clips}, which the build rewrites; choose "
                "another output folder"
            )
    if config.cut_clips:
        return
    resolved_out = out.resolve()
    for a in annotations:
        src = _resolved(a)
        if src is None or src.is_relative_to(resolved_out):
            continue  # unusable (reported later), or used in place
        dst = _entry(resolved_out / "videos" / f"{a.safe_id}{src.suffix}")
        what, where = inputs.get(dst, (None, None))
        if what and dst.resolve() != src:  # a link to this very video is only renewed
            raise BuildError(
                f"{a.where}: placing its video at {dst} would replace the {what} that {where} reads; "
                "give one of them another id, or choose another output folder"
            )


def _resolved(ann: VideoAnnotation) -> Path | None:
    """The video file an annotation names, symlinks resolved; None for a symlink loop (reported as unusable)."""
    try:
        return ann.video.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 says RuntimeError("Symlink loop from ...")
        return None


def _entry(path: Path) -> Path:
    """``path`` with its folder's symlinks resolved but not its own name: the directory entry a write replaces."""
    return path.parent.resolve() / path.name


def _fail(report: BuildReport, config: BuildConfig, error: ValidationError) -> None:
    if not config.skip_invalid:
        raise error
    report.skipped_videos[error.field or "row"] += 1  # by field; the messages name files, see first_errors
    if len(report.first_errors) < 5:
        report.first_errors.append(str(error))
