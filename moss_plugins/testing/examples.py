"""The bundled example traces: model outputs (honest and reward-hacking ones) with their ground truth, shared by
the demo, the tests and the benchmarks."""

from __future__ import annotations

import json
from importlib import resources


def load_examples() -> list[dict]:
    return json.loads(resources.files(__package__).joinpath("example_traces.json").read_text("utf-8"))
