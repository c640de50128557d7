"""The traffic-light example the reward tests share (a uniquely named module: every folder has a conftest): the
bundled example of ``moss demo``."""

from moss_plugins.output_format import format_response
from moss_plugins.testing.examples import load_examples

EXAMPLE = next(e for e in load_examples() if e["id"] == "traffic-light")
OPTIONS = EXAMPLE["options"]
TRACE = EXAMPLE["ground_truth"]["trace"]
QUESTION = EXAMPLE["question"]


def render(steps, answer="B"):
    return format_response(steps, answer)
