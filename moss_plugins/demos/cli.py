"""``moss demo``: the main job on the bundled data, stage by stage, each printing a readable report."""

from __future__ import annotations

import importlib
import time

from rich.console import Console

# (name, "module:function"); each function takes a rich Console and returns nothing.
STAGES = (
    ("reward", "moss_plugins.demos.reward:run"),
    ("data", "moss_plugins.demos.data:run"),
    ("build", "moss_plugins.demos.build:demo"),
    ("lmms-eval", "moss_plugins.demos.lmms_eval:run"),
    ("verl", "moss_plugins.demos.verl:run"),
)


def run(args) -> int:
    console = Console()
    selected = [s for s in STAGES if not args.only or s[0] in args.only]
    for name, target in selected:
        console.rule(f"[bold]{name}")
        module, func = target.split(":")
        start = time.perf_counter()
        getattr(importlib.import_module(module), func)(console)
        console.print(f"[dim]{name}: {time.perf_counter() - start:.1f} s")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the bundled data and print a report")
    p.add_argument("--only", nargs="+", choices=[s[0] for s in STAGES], help="run only these stages")
    p.set_defaults(func=run)
