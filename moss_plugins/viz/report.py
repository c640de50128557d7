"""A self-contained HTML report of an evaluation: summary table, then one card per sample.

Each card shows a strip of the frames the model saw, the model's steps beside the reference steps with their
alignment (a similarity heatmap whose alignment path cells are outlined), the parsed answer against the gold one,
the per-sample scores and, when present, the judge's verdict. Input: report items as the lmms-eval tasks log
them (:mod:`moss_plugins.lmms_eval.hooks`); no evaluation framework is imported here.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..output_format import LETTERS

FRAMES_PER_STRIP = 8
REPORT_SAMPLES_ENV = "MOSS_REPORT_SAMPLES"
THUMB_PIXELS = 96 * 96
_VIRIDIS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], dtype=float)

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .muted{color:#6e6e73;font-size:13px}
table{border-collapse:collapse;font-size:13px} th,td{padding:4px 8px;border-bottom:1px solid #e5e5ea;text-align:right}
th:first-child,td:first-child{text-align:left} .card{background:#fff;border:1px solid #e5e5ea;border-radius:10px;
padding:14px 16px;margin:14px 0} .card h3{margin:0 0 6px;font-size:15px} .q{margin:4px 0 8px}
.opts span{display:inline-block;margin:2px 6px 2px 0;padding:2px 8px;border-radius:10px;background:#f2f2f7;font-size:12px}
.opts .gold{background:#d1f2d9} .opts .wrong{background:#ffd9d6} .strip img{height:72px;margin-right:3px;border-radius:3px}
.strip figure{display:inline-block;margin:0 3px 0 0;text-align:center;font-size:10px;color:#6e6e73}
.chips span{display:inline-block;margin:2px 6px 2px 0;padding:2px 8px;border-radius:6px;background:#eef;font-size:12px}
.cols{display:flex;gap:18px;flex-wrap:wrap;margin-top:10px} .col{flex:1;min-width:320px}
.col ol{margin:4px 0;padding-left:26px;font-size:13px} .col li{margin:2px 0}
table.heat td{width:34px;height:22px;text-align:center;font-size:11px;border:1px solid #fff;padding:0}
table.heat td.path{outline:2px solid #ff3b30;outline-offset:-2px} table.heat th{font-size:11px;padding:2px 4px}
table.heat td.ref{text-align:left;width:auto;max-width:360px;padding:0 8px;font-size:12px;color:#1d1d1f}
.judge{font-size:12px;color:#3a3a3c;margin-top:8px} pre{white-space:pre-wrap;font-size:12px;background:#f2f2f7;
padding:8px;border-radius:6px;max-height:220px;overflow:auto}
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _colour(x: float) -> str:
    x = min(1.0, max(0.0, float(x))) * (len(_VIRIDIS) - 1)
    k = min(int(x), len(_VIRIDIS) - 2)
    r, g, b = _VIRIDIS[k] + (_VIRIDIS[k + 1] - _VIRIDIS[k]) * (x - k)
    return f"rgb({r:.0f},{g:.0f},{b:.0f})"


def frame_strip(video: str | None, until: float | None = None, n: int = FRAMES_PER_STRIP) -> str:
    """``n`` evenly spaced frames of ``video`` (before ``until``) as inline JPEG thumbnails with their times."""
    if not video or not Path(video).is_file():
        return '<div class="muted">(no video frames)</div>'
    from PIL import Image

    from ..data.video import VideoError, load_frames

    try:
        loaded = load_frames(video, nframes=n, max_pixels=THUMB_PIXELS, until=until)
    except (VideoError, ValueError) as e:
        return f'<div class="muted">(frames unavailable: {_esc(e)})</div>'
    figures, seen = [], set()
    for frame, t in zip(loaded.frames, loaded.timestamps):
        if float(t) in seen:  # short clips repeat frames to make up n
            continue
        seen.add(float(t))
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=85)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        figures.append(
            f'<figure><img src="data:image/jpeg;base64,{data}"><figcaption>{t:.2f} s</figcaption></figure>'
        )
    return '<div class="strip">' + "".join(figures) + "</div>"


def heatmap_table(pred_steps: Sequence[str], ref_steps: Sequence[str], similarity, path) -> str:
    """Reference steps down, model steps across, cells coloured by similarity, alignment path cells outlined."""
    if not ref_steps:
        return ""
    on_path = {(int(i), int(j)) for i, j in path or []}
    sim = np.asarray(similarity, dtype=float).reshape(len(ref_steps), len(pred_steps))
    head = "".join(f"<th>P{j + 1}</th>" for j in range(len(pred_steps)))
    rows = []
    for i, text in enumerate(ref_steps):
        cells = "".join(
            f'<td class="{"path" if (i, j) in on_path else ""}" style="background:{_colour(v)};'
            f'color:{"#000" if v > 0.6 else "#fff"}" title="R{i + 1} vs P{j + 1}">{v:.2f}</td>'
            for j, v in enumerate(sim[i])
        )
        rows.append(f'<tr><td class="ref"><b>R{i + 1}</b> {_esc(text)}</td>{cells}</tr>')
    return f'<table class="heat"><tr><th>reference step</th>{head}</tr>{"".join(rows)}</table>'


def _options(item: Mapping) -> str:
    options = item.get("options") or []
    gold, pred = item.get("answer"), item.get("pred_answer")
    spans = []
    for k, text in enumerate(options):
        letter = LETTERS[k]
        cls = "gold" if letter == gold else ("wrong" if letter == pred else "")
        mark = " ✓" if letter == gold else (" ✗ (model)" if letter == pred else "")
        spans.append(f'<span class="{cls}">{letter}. {_esc(text)}{mark}</span>')
    if not options:
        spans.append(f'<span class="gold">gold: {_esc(gold)}</span><span>model: {_esc(pred)}</span>')
    elif pred == gold:
        spans.append("<span>model: ✓</span>")
    elif not pred:
        spans.append('<span class="wrong">model: no readable answer</span>')
    return '<div class="opts">' + "".join(spans) + "</div>"


def sample_card(item: Mapping, with_frames: bool = True) -> str:
    metrics = item.get("metrics", {})
    chips = "".join(f"<span>{_esc(k)} {v:.2f}</span>" for k, v in metrics.items())
    pred_steps, ref_steps = item.get("pred_steps") or [], item.get("ref_steps") or []
    model = (
        "<ol>" + "".join(f"<li>{_esc(s)}</li>" for s in pred_steps) + "</ol>"
        if pred_steps
        else '<div class="muted">(no steps)</div>'
    )
    reference = heatmap_table(
        pred_steps, ref_steps, item.get("similarity") or [[]] * len(ref_steps), item.get("path")
    )
    right = (
        (
            f'<div class="col"><b>Reference and alignment</b> <span class="muted">(cell: step similarity; '
            f"outlined: alignment path)</span>{reference}</div>"
        )
        if ref_steps
        else ""
    )
    judge = item.get("judge")
    judge_html = ""
    if judge:
        verdict = (
            f"{_esc(judge['consistency'])}/5"
            if judge.get("consistency")
            else f"no verdict ({_esc(judge.get('error', ''))})"
        )
        judge_html = f'<div class="judge"><b>Judge</b> ({_esc(judge.get("model", ""))}): {verdict} {_esc(judge.get("explanation", ""))}</div>'
    frames = frame_strip(item.get("video"), item.get("observed_until")) if with_frames else ""
    title = " · ".join(_esc(x) for x in (item.get("id"), item.get("task_type")) if x)
    return (
        f'<div class="card"><h3>{title}</h3>{frames}<div class="q">{_esc(item.get("question", ""))}</div>'
        f'{_options(item)}<div class="chips">{chips}</div><div class="cols"><div class="col"><b>Model steps</b>{model}'
        f'<details><summary class="muted">raw output</summary><pre>{_esc(item.get("output", ""))}</pre></details></div>'
        f"{right}</div>{judge_html}</div>"
    )


def summary(items: Sequence[Mapping], ci) -> dict:
    """{group or "all": {metric: (mean, [low, high], n)}} from the items' per-sample metrics."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        for name, v in (item.get("metrics") or {}).items():
            values["all"][name].append(v)
            if item.get("task_type"):
                values[item["task_type"]][name].append(v)
    return {g: {m: (float(np.mean(v)), ci(v), len(v)) for m, v in by.items()} for g, by in values.items()}


def summary_table(stats: Mapping) -> str:
    metrics = list(dict.fromkeys(m for by in stats.values() for m in by))
    head = "".join(f"<th>{_esc(m)}</th>" for m in metrics)
    rows = []
    for group, by in stats.items():
        cells = []
        for m in metrics:
            if m not in by:
                cells.append("<td>–</td>")
                continue
            mean, (low, high), n = by[m]
            interval = "" if math.isnan(low) else f' <span class="muted">[{low:.2f}, {high:.2f}]</span>'
            cells.append(f"<td>{mean:.3f}{interval} <span class='muted'>n={n}</span></td>")
        rows.append(f"<tr><td><b>{_esc(group)}</b></td>{''.join(cells)}</tr>")
    return f"<table><tr><th>group</th>{head}</tr>{''.join(rows)}</table>"


def render_report(items: Sequence[Mapping], title: str, ci, max_cards: int = 100, subtitle: str = "") -> str:
    """The report as one HTML string. ``ci(values) -> [low, high]`` gives the confidence intervals."""
    stats = summary(items, ci)
    cards = "".join(sample_card(item) for item in items[:max_cards])
    more = (
        f'<p class="muted">{len(items) - max_cards} more samples are in the logged samples.</p>'
        if len(items) > max_cards
        else ""
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{CSS}</style></head>'
        f'<body><h1>{_esc(title)}</h1><div class="muted">{_esc(subtitle)}</div><div class="muted">{len(items)} samples · mean, 95% '
        f"bootstrap confidence interval and count per metric</div>{summary_table(stats)}"
        f"<h2>Samples</h2>{cards}{more}</body></html>"
    )


def write_report_file(items: Sequence[Mapping], out: Path, model: str = "") -> Path:
    """The HTML report of one benchmark's items; ``$MOSS_REPORT_SAMPLES`` caps the sample cards (default 100;
    the summary covers every sample)."""
    from ..evaluation.trace_metrics import bootstrap_ci

    benchmark = items[0].get("benchmark") or "moss"
    max_cards = int(os.environ.get(REPORT_SAMPLES_ENV, "100"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(items, benchmark, bootstrap_ci, max_cards, model), encoding="utf-8")
    return out


def items_from_samples(path: str | Path) -> list[dict]:
    """The report items in an lmms-eval ``--log_samples`` file (``*_samples_<task>.jsonl``)."""
    from ..data.io import strict_jsonl_rows
    from ..sample import ValidationError

    items = []
    for where, sample in strict_jsonl_rows(path):
        if not isinstance(sample, dict) or "report" not in sample:
            raise ValidationError(
                "no 'report' field; is this a moss_video, mvbench_moss or mmvu_moss samples file?",
                where=where,
            )
        try:
            items.append(check_item(sample["report"]))
        except ValidationError as e:
            raise e.located(where) from None
    return items


_TEXTS = ("benchmark", "id", "task_type", "question", "answer", "pred_answer", "output", "video", "reason")


def check_item(item: Any) -> dict:
    """``item`` if every field the report reads has the type it needs (a samples file may come from anywhere);
    ValidationError naming the field otherwise."""
    from ..sample import ValidationError

    def wrong(field: str, want: str, value: Any) -> ValidationError:
        return ValidationError(
            f"must be {want}, got {type(value).__name__}: {value!r:.60}", f"report.{field}"
        )

    if not isinstance(item, dict):
        raise wrong("", "an object", item)
    for name in _TEXTS:
        if not isinstance(item.get(name, ""), (str, type(None))):
            raise wrong(name, "text", item[name])
    for name in ("observed_until", "dtw_normalized"):
        if item.get(name) is not None and not _number(item[name]):
            raise wrong(name, "a number", item[name])
    for name in ("options", "pred_steps", "ref_steps"):
        value = item.get(name) or []
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise wrong(name, "a list of texts", value)
    metrics = item.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(_number(v) for v in metrics.values()):
        raise wrong("metrics", "an object of numbers", metrics)
    n_ref, n_pred = len(item.get("ref_steps") or []), len(item.get("pred_steps") or [])
    similarity = item.get("similarity") or []
    if similarity and not (
        isinstance(similarity, list)
        and len(similarity) == n_ref
        and all(isinstance(row, list) and len(row) == n_pred and all(map(_number, row)) for row in similarity)
    ):
        raise wrong(
            "similarity", f"a {n_ref} x {n_pred} list of numbers (reference x model steps)", similarity
        )
    path = item.get("path") or []
    if not isinstance(path, list) or not all(
        isinstance(p, list)
        and len(p) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
        and 0 <= p[0] < n_ref
        and 0 <= p[1] < n_pred
        for p in path
    ):
        raise wrong("path", "a list of [reference step, model step] index pairs", path)
    judge = item.get("judge") or {}
    if not isinstance(judge, dict):
        raise wrong("judge", "an object", judge)
    if judge.get("consistency") is not None and not (
        isinstance(judge["consistency"], int) and not isinstance(judge["consistency"], bool)
    ):
        raise wrong("judge.consistency", "a whole number", judge["consistency"])
    return item


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
