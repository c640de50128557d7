"""The trainer config exactly as ``python -m verl.trainer.main_ppo ... --cfg job`` prints it, as a DictConfig."""

from __future__ import annotations

import contextlib
import io
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def compose_job(
    overrides: Sequence[str] = (), config_dir: str | Path | None = None, config_name: str = "config"
) -> DictConfig:
    """Run verl's own entry point with ``--cfg job`` (in this process: no Ray, no training) and parse its output.

    ``config_dir``/``config_name`` select a recipe config (``--config-path``/``--config-name``); without them,
    verl's ``ppo_trainer`` is used. Composition errors (unknown key, missing group option) raise ValueError.
    """
    argv = ["verl.trainer.main_ppo"]
    if config_dir is not None:
        argv += ["--config-path", str(Path(config_dir).resolve()), "--config-name", config_name]
    argv += [*overrides, "--cfg", "job"]
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_module("verl.trainer.main_ppo", run_name="__main__")
    except SystemExit as e:  # Hydra exits on composition errors, after printing them to stderr
        if e.code:
            raise ValueError(f"composing {' '.join(argv[1:])} failed:\n{err.getvalue().strip()}") from None
    finally:
        sys.argv = saved
    return OmegaConf.create(out.getvalue())
