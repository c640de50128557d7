"""``moss data build``: MOSS-Video samples from videos with timestamped segment captions."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def run(args) -> int:
    from .annotations import read_annotations
    from .build import BuildConfig, BuildError, build_dataset
    from .parallel import RayOptions
    from .rewrite import RewriteConfig, RewriteConfigError
    from ..sample import ValidationError

    console = Console()
    try:
        config = BuildConfig(
            seed=args.seed,
            test_fraction=args.test_fraction,
            tasks=tuple(args.tasks),
            max_per_video=args.max_per_video,
            n_options=args.options,
            max_similarity=args.max_similarity,
            min_observed=args.min_observed,
            cut_clips=args.cut_clips,
            copy_videos=args.copy_videos,
            skip_invalid=args.skip_invalid,
            source=args.source,
            max_trace_steps=args.max_trace_steps,
            max_trace_chars=args.max_trace_chars,
        )
        rewrite = None
        if args.rewrite:
            rewrite = RewriteConfig(
                model=args.model or "",
                base_url=args.base_url,
                api_key_env=args.api_key_env,
                cache_path=args.cache or f"{args.out}/rewrite_cache.sqlite",
                requests_per_minute=args.rpm,
                max_concurrency=args.concurrency,
                max_retries=args.max_retries,
            )
            rewrite.endpoint()  # a missing key is reported now, not after the build
        ray = (
            RayOptions(address=args.address, num_cpus=args.num_cpus, chunk_size=args.chunk_size)
            if args.ray
            else None
        )
        annotations = read_annotations(args.annotations, fmt=args.format, video_root=args.video_root)
        console.print(
            f"{len(annotations)} annotated videos from {len(args.annotations)} file(s)"
            + (f"; per-video work on Ray ({args.address or 'local'})" if ray else "")
        )
        report = build_dataset(annotations, args.out, config, ray=ray, rewrite=rewrite)
    except (ValidationError, BuildError, RewriteConfigError, FileNotFoundError) as e:
        console.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        return 2
    _print_report(console, report)
    if report.rewrite.get("failed"):
        console.print(
            f"[yellow]{report.rewrite['failed']} rewrite request(s) still failed after all retries; those "
            "samples keep their caption traces. Run the same command again to retry them (finished "
            "replies are cached)."
        )
        return 3
    return 0


def _print_report(console: Console, report) -> None:
    n = sum(report.samples.values())
    table = Table(
        title=f"moss data build: {n} samples in {report.seconds:.1f} s "
        f"({n / max(report.seconds, 1e-9):.1f} samples/s)",
        title_justify="left",
    )
    table.add_column("what")
    table.add_column("counts", overflow="fold")
    used = sum(report.videos_per_split.values())
    table.add_row(
        "videos",
        f"{report.videos} annotated, {used} used ({_fmt(report.videos_per_split)}), "
        f"{sum(report.skipped_videos.values())} skipped",
    )
    table.add_row("samples per split", _fmt(report.samples))
    table.add_row(
        "task types",
        ", ".join(f"{task}: {n} from {report.task_videos[task]} videos" for task, n in report.tasks.items()),
    )
    table.add_row("answer letters", _fmt(dict(sorted(report.letters.items()))))
    if report.segment_policy:
        table.add_row("segment policy", _fmt(report.segment_policy))
    if report.dropped:
        table.add_row("cuts dropped", _fmt(report.dropped))
    if report.skipped_videos:
        table.add_row("videos skipped", _fmt(report.skipped_videos))
    if report.rewrite:
        r = report.rewrite
        table.add_row(
            "trace rewrite",
            f"{r['rewritten']}/{r['samples']} rewritten; {r['prompts']} prompts, "
            f"{r['cached']} from cache, {r['failed']} failed; rejected: "
            f"{_fmt(r['rejected']) or 'none'}; client: {_fmt(r['client']) or '-'}",
        )
    table.add_row("files", ", ".join(report.files))
    console.print(table)
    for message in report.first_errors:
        console.print(f"  [yellow]skipped[/] {escape(message)}", highlight=False, soft_wrap=True)


def _fmt(counts) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def add_command(sub) -> None:
    from dataclasses import fields

    from .annotations import FORMATS
    from .build import BUILD_TASKS, BuildConfig
    from .parallel import RayOptions
    from .rewrite import RewriteConfig

    d = BuildConfig()
    rewrite = {f.name: f.default for f in fields(RewriteConfig)}  # its model has no default
    p = sub.add_parser(
        "build",
        help="build MOSS-Video samples from videos with timestamped segment captions",
        description="Cut each annotated video at segment boundaries and ask for what comes next; the reference "
        "trace is the observed segments. Writes OUT/train.jsonl, OUT/test.jsonl and OUT/build_report.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "annotations",
        nargs="+",
        help="annotation files (.jsonl, .json holding a list, or a "
        "dataset's own file: ActivityNet Captions .json, YouCook2 .json, Charades-STA .txt)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format",
        default="auto",
        choices=FORMATS,
        help="annotation layout (auto: a dataset's file by its shape, other rows by their keys)",
    )
    p.add_argument(
        "--video-root", help="folder that video paths are relative to (default: each annotation file's)"
    )
    g = p.add_argument_group("samples")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument(
        "--test-fraction", type=float, default=d.test_fraction, help="share of VIDEOS that go to test"
    )
    g.add_argument("--tasks", nargs="+", default=list(d.tasks), choices=BUILD_TASKS)
    g.add_argument("--max-per-video", type=int, default=d.max_per_video)
    g.add_argument("--options", type=int, default=d.n_options, help="options per question")
    g.add_argument(
        "--max-similarity",
        type=float,
        default=d.max_similarity,
        help="ROUGE-L F1 that no two options may reach (keeps near-copies of the answer out)",
    )
    g.add_argument(
        "--min-observed", type=float, default=d.min_observed, help="seconds seen before the first cut"
    )
    g.add_argument(
        "--max-trace-steps",
        type=int,
        default=d.max_trace_steps,
        help="reference steps at most (a long video's segments are merged to fit)",
    )
    g.add_argument(
        "--max-trace-chars", type=int, default=d.max_trace_chars, help="reference characters at most"
    )
    g.add_argument("--source", default=d.source, help="the samples' source field and id prefix")
    g.add_argument(
        "--cut-clips",
        action="store_true",
        help="write each observed part as its own clip (PyAV), so no reader can show the future",
    )
    g.add_argument(
        "--copy-videos", action="store_true", help="copy source videos into OUT/videos (default: symlink)"
    )
    g.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip unusable videos and report them instead of stopping at the first",
    )
    g = p.add_argument_group("scale (Ray)")
    g.add_argument("--ray", action="store_true", help="run the per-video work as Ray tasks")
    g.add_argument(
        "--address", help="existing Ray cluster (e.g. auto, ray://head:10001); default: a local Ray"
    )
    g.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    g.add_argument("--chunk-size", type=int, default=RayOptions().chunk_size, help="videos per Ray task")
    g = p.add_argument_group("trace rewriting (any OpenAI-compatible chat endpoint)")
    g.add_argument("--rewrite", action="store_true", help="rewrite the reference traces with a chat model")
    g.add_argument("--model", help="model name, e.g. gpt-4o")
    g.add_argument(
        "--base-url", help="e.g. http://localhost:8000/v1 (default: $OPENAI_API_BASE, then OpenAI)"
    )
    g.add_argument(
        "--api-key-env", default=rewrite["api_key_env"], help="environment variable holding the API key"
    )
    g.add_argument(
        "--rpm", type=float, default=rewrite["requests_per_minute"], help="requests per minute at most"
    )
    g.add_argument(
        "--concurrency", type=int, default=rewrite["max_concurrency"], help="requests in flight at most"
    )
    g.add_argument("--max-retries", type=int, default=rewrite["max_retries"])
    g.add_argument("--cache", help="reply cache, reused across runs (default: OUT/rewrite_cache.sqlite)")
    p.set_defaults(func=run)
