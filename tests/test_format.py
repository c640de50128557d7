"""The code is the formatter's output: `ruff format` with the project's settings (pyproject.toml, [tool.ruff]) would
change nothing. Run `ruff format .` to fix a failure."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_code_is_formatted_by_ruff():
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--diff", str(REPO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, (
        f"not formatted (run `ruff format .`):\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
    )
