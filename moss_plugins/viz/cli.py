"""``moss viz``: pictures of model traces against their references.

moss viz alignment --samples RUN/..._samples_moss_video.jsonl --index 3 -o align.png
moss viz alignment --data test.jsonl --id synth-s0-00004-next_state --trace "<think>Step 1: ...</think>..." -o align.png
moss viz report RUN/..._samples_moss_video.jsonl -o report.html
"""

from __future__ import annotations

from pathlib import Path


def _from_samples(path: str, index: int | None, sample_id: str | None) -> dict:
    from moss_plugins.viz.report import items_from_samples

    items = items_from_samples(path)
    if sample_id is not None:
        found = [item for item in items if item.get("id") == sample_id]
        if not found:
            raise SystemExit(f"{path}: no sample with id {sample_id!r}")
        return found[0]
    k = index or 0
    if not 0 <= k < len(items):
        raise SystemExit(f"{path}: --index {k} is out of range (the file has {len(items)} samples)")
    return items[k]


def _trace_text(value: str) -> str:
    if value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value


def _from_data(path: str, sample_id: str | None, trace: str) -> dict:
    """Align a trace with the reference of a sample in a MOSS-Video JSONL or an lmms export."""
    from moss_plugins.data.io import strict_jsonl_rows
    from moss_plugins.evaluation.trace_metrics import reference_metrics
    from moss_plugins.sample import from_row

    if sample_id is None:
        raise SystemExit("--data needs --id")
    for _, row in strict_jsonl_rows(path):
        if isinstance(row, dict) and row.get("id") == sample_id:
            break
    else:
        raise SystemExit(f"{path}: no sample with id {sample_id!r}")
    truth = from_row(row, "lmms").ground_truth()  # a MOSS-Video row, or an lmms export's (JSON-text trace)
    scored = reference_metrics(_trace_text(trace), truth)
    return {"id": sample_id, "question": row["question"], "metrics": scored["metrics"], **scored["details"]}


def _alignment(args) -> int:
    from moss_plugins.evaluation.trace_metrics import COVERAGE_THRESHOLD
    from moss_plugins.viz.alignment import save_alignment_png

    if (args.samples is None) == (args.data is None):
        raise SystemExit("give either --samples (lmms-eval logged samples) or --data with --id and --trace")
    if args.data is not None and args.trace is None:
        raise SystemExit("--data needs --trace (the model output, or @file)")
    item = (
        _from_samples(args.samples, args.index, args.id)
        if args.samples
        else _from_data(args.data, args.id, args.trace)
    )
    if not item.get("ref_steps"):
        raise SystemExit(
            f"sample {item.get('id')!r} has no reference trace to align with (a reference-free task)"
        )
    scores = " · ".join(f"{k} {v:.2f}" for k, v in item.get("metrics", {}).items())
    out = save_alignment_png(
        args.output,
        item["pred_steps"],
        item["ref_steps"],
        item["similarity"] or [[]] * len(item["ref_steps"]),
        item["path"],
        title=f"{item.get('id', '')}: {item.get('question', '')}",
        subtitle=scores,
        threshold=COVERAGE_THRESHOLD,
    )
    print(out)
    return 0


def _report(args) -> int:
    from moss_plugins.viz.report import items_from_samples, write_report_file

    items = items_from_samples(args.samples)
    if not items:
        raise SystemExit(f"{args.samples}: no samples")
    out = args.output or Path(args.samples).with_suffix(".html")
    print(write_report_file(items, Path(out)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("viz", help="pictures: trace/reference alignment PNG, HTML report of an lmms-eval run")
    viz = p.add_subparsers(dest="viz_command", required=True, metavar="COMMAND")

    a = viz.add_parser(
        "alignment",
        help="step-similarity heatmap of a model trace against its reference, with the reward's "
        "alignment path (MOSS_REWARD_PRESET=paper: the paper's)",
    )
    a.add_argument(
        "--samples", help="lmms-eval --log_samples file of moss_video (*_samples_moss_video*.jsonl)"
    )
    a.add_argument("--index", type=int, help="which logged sample (0-based; default 0)")
    a.add_argument("--id", help="sample id (in --samples or --data)")
    a.add_argument("--data", help="MOSS-Video JSONL or lmms export split with the reference")
    a.add_argument("--trace", help="the model output to align (text, or @file)")
    a.add_argument("-o", "--output", default="alignment.png", help="PNG to write (default: alignment.png)")
    a.set_defaults(func=_alignment)

    r = viz.add_parser(
        "report", help="HTML report (frames, trace beside reference, scores) of logged samples"
    )
    r.add_argument("samples", help="lmms-eval --log_samples file of moss_video, mvbench_moss or mmvu_moss")
    r.add_argument("-o", "--output", help="HTML to write (default: next to the samples file)")
    r.set_defaults(func=_report)
