"""``moss score`` and ``moss plugins``."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from ..reward import registry
from ..reward.batch import score_batch
from ..reward.score import RESULT_KEYS


def _score(args) -> int:
    """Score a JSONL file of {"solution": ..., "ground_truth": ...} rows; results go to stdout as JSONL."""
    from moss_plugins.data.io import strict_jsonl_rows
    from moss_plugins.sample import ValidationError

    overrides = _options(args.set or [])
    solutions, truths = [], []
    for where, row in strict_jsonl_rows(args.file):
        if not (isinstance(row, dict) and {"solution", "ground_truth"} <= row.keys()):
            raise ValidationError("expected a JSON object with 'solution' and 'ground_truth'", where=where)
        solutions.append(row["solution"])
        truths.append(row["ground_truth"])
    results = score_batch(solutions, truths, **overrides)
    for r in results:
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    if args.summary:
        table = Table(title=f"{len(results)} rollouts")
        table.add_column("component")
        table.add_column("mean", justify="right")
        for key in RESULT_KEYS if results else ():
            if isinstance(results[0][key], (int, float)):
                table.add_row(key, f"{sum(r[key] for r in results) / len(results):.4f}")
        Console(stderr=True).print(table)
    return 0


def _options(pairs: list[str]) -> dict:
    """``--set KEY=VALUE`` pairs: VALUE is JSON (3, true, [1, 1, 2]), or else the text itself (similarity=char3)."""
    from moss_plugins.json_text import parse_json

    from ..reward.config import ConfigError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. alpha=3 or gate_process=true")
        try:
            options[key] = parse_json(value)
        except ValueError:
            options[key] = value  # the option's own check says what it must be
    return options


def _plugins(args) -> int:
    """What each name is and where it comes from, read from the install metadata (no plugin is imported)."""
    table = Table(title="reward plugins")
    for col in ("kind", "name", "from"):
        table.add_column(col)
    for kind in registry.GROUPS:
        for name, provider in registry.available(kind).items():
            table.add_row(kind.replace("_", " "), name, provider)
    Console().print(table)
    return 0


def register(sub) -> None:
    p = sub.add_parser("score", help="score model outputs (JSONL of solution + ground_truth) with the reward")
    p.add_argument("file")
    p.add_argument(
        "--set", nargs="*", metavar="KEY=JSON", help="reward options, e.g. alpha=3 gate_process=true"
    )
    p.add_argument("--summary", action="store_true", help="print the mean of each component to stderr")
    p.set_defaults(func=_score)
    p = sub.add_parser("plugins", help="list the installed segmenters, similarities and reward terms")
    p.set_defaults(func=_plugins)
