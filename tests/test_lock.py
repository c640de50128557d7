"""requirements.lock is what ./dev.sh installs: it must cover pyproject.toml's ranges, and the environment the
tests run in must be exactly the locked one (the guard against a fresh machine getting other versions)."""

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest brings tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", re.M)


def locked_here() -> dict[str, str]:
    """The lock's pins whose markers hold for this interpreter and platform."""
    text = (ROOT / "requirements.lock").read_text()
    return {
        canonicalize_name(name): version
        for name, version, marker in PIN.findall(text)
        if not marker or Marker(marker).evaluate()
    }


def project_requirements(extra: str = "all") -> list[Requirement]:
    """pyproject.toml's requirements of `extra`, following self-references (moss-plugins[data])."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras, todo, out = set(), [extra], list(map(Requirement, project["dependencies"]))
    while todo:
        name = todo.pop()
        if name in extras:
            continue
        extras.add(name)
        for req in map(Requirement, project["optional-dependencies"][name]):
            if canonicalize_name(req.name) == "moss-plugins":
                todo.extend(req.extras)
            else:
                out.append(req)
    return [r for r in out if r.marker is None or r.marker.evaluate()]


def test_the_lock_satisfies_every_range_of_the_all_extra():
    locked = locked_here()
    stale = [
        f"{req} (locked: {locked.get(canonicalize_name(req.name), 'missing')})"
        for req in project_requirements()
        if locked.get(canonicalize_name(req.name)) not in req.specifier
    ]
    assert not stale, f"requirements.lock is stale, run ./dev.sh lock: {stale}"


def test_the_environment_is_the_locked_one():
    if not (ROOT / ".venv").is_dir() or Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in ./dev.sh's .venv")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {
        name: (version, installed.get(name))
        for name, version in locked_here().items()
        if installed.get(name) != version
    }
    assert not wrong, f"installed versions differ from requirements.lock (locked, installed): {wrong}"


def test_verls_trainer_finds_what_it_imports_to_start():
    """main_ppo's default (v1) trainer imports these inside its Ray task runner, after start-up has passed."""
    pytest.importorskip("verl")
    for module in (
        "transfer_queue",
        "verl.trainer.ppo.v1",
        "fastapi",
        "uvicorn",
        "zmq",
        "msgspec",
        "cachetools",
    ):
        __import__(module)
