"""Run a Python snippet in a subprocess and signal it at a chosen moment: when it creates its marker file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A job a shell starts in the background without job control inherits SIGINT ignored, and Python then leaves
# it ignored; the snippet restores Ctrl-C's default so that "interrupted" means the same wherever tests run.
_CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def signal_when_marked(script: str, marker: Path, args: list[str], sig: int) -> None:
    """``python -c script marker *args``; once ``marker`` exists, send ``sig`` and wait for the process to end.
    The snippet touches the marker where the test wants it interrupted (mid-copy, mid-cut) and then hangs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C + script, str(marker), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the run ended before it reached its marker"
            assert time.monotonic() < deadline, "the run never reached its marker"
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
