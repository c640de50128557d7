"""A real multi-node Ray cluster on this machine: a head and worker nodes started with ``ray start``, each with
its own custom resource, temp folder and logs, joined with Ray's token authentication on.

For the Ray paths that a single ``ray.init()`` never exercises (a driver joining with ``--address``, the
scheduler spreading tasks over nodes, objects moving between two object stores, multi-node verl). Nodes share
this machine's file system, as a cluster's nodes share a network file system.

Token authentication (Ray >= 2.52; read from the installed ray, ``ray/_private/authentication`` and
``ray/scripts/scripts.py``): every process of the cluster, and every driver, runs with ``RAY_AUTH_MODE=token``
and the same token, from ``RAY_AUTH_TOKEN``, the file named by ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``.
``ray start --head`` switches token mode on by itself when ``RAY_AUTH_MODE`` is unset and a token file exists,
but ``ray start --address`` (a joining node) and ``ray.init(address=...)`` with an explicit address never do:
without ``RAY_AUTH_MODE=token`` they connect without the token and the head refuses them (``InvalidAuthToken``).
Here a fresh token travels in ``RAY_AUTH_TOKEN`` only, so ``~/.ray/auth_token`` is neither read nor written.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RAY = Path(sys.executable).parent / "ray"
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Node:
    name: str  # also its custom resource: tasks may ask for {name: 1} to run there
    process: subprocess.Popen  # the blocking ``ray start``; its children are the node's Ray processes
    temp_dir: Path  # this node's sessions and logs

    def task_runs(self, task_name: str) -> int:
        """Tasks named ``task_name`` that this node's workers started, from the task markers Ray writes into
        each worker's log (``:task_name:NAME``)."""
        logs = self.temp_dir / "session_latest" / "logs"
        marker = f":task_name:{task_name}\n"
        return sum(p.read_text(errors="replace").count(marker) for p in logs.glob("worker-*.out"))


@dataclass(frozen=True)
class Cluster:
    address: str  # host:port of the head's GCS, for ``ray.init(address=...)`` and ``--address``
    env: Mapping[str, str]  # the environment every process of the cluster and every driver needs
    nodes: tuple[Node, ...]  # the head first


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_cluster(
    workers: int = 1,
    cpus_per_node: int = 1,
    gpus_per_node: int = 0,
    object_store_mb: int = 80,
    env: Mapping | None = None,
    token: str | None = None,
    start_timeout_s: float = 120,
) -> Iterator[Cluster]:
    """A head and ``workers`` worker nodes on 127.0.0.1 with ``cpus_per_node`` CPUs, ``gpus_per_node`` logical
    GPUs (verl's CPU backend schedules its workers on them) and a small object store each; the custom resources
    are ``node0`` (the head), ``node1``, .... ``env`` is added to the nodes' environment (their workers inherit
    it: e.g. a ``PYTHONPATH`` for the code under test). ``token``: the cluster's token (default: a fresh one), for
    a driver that must set it before it imports ray (the mode and token are read at import). Every node is
    stopped on exit, also after an error: SIGTERM to its ``ray start --block`` (which stops the node's
    processes), then SIGKILL to its process group if it has not finished within ``STOP_TIMEOUT_S``."""
    if not RAY.is_file():
        raise FileNotFoundError(f"{RAY}: the ray command is not installed in this environment")
    cluster_env = {
        **os.environ,
        **(env or {}),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token or secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    cluster_env.pop("RAY_ADDRESS", None)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[Node] = []
    temps: list[Path] = []
    try:
        for k in range(workers + 1):
            temp = Path(
                tempfile.mkdtemp(prefix=f"moss-ray{k}-", dir="/tmp")
            )  # short: Ray's sockets live here
            temps.append(temp)
            args = [
                str(RAY),
                "start",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={cpus_per_node}",
                f"--num-gpus={gpus_per_node}",
                f'--resources={{"node{k}": 1}}',
                f"--object-store-memory={object_store_mb << 20}",
                f"--temp-dir={temp}",
                f"--dashboard-agent-listen-port={_free_port()}",
                "--disable-usage-stats",
            ]
            if k == 0:
                args += [
                    "--head",
                    f"--port={port}",
                    "--include-dashboard=false",
                    f"--ray-client-server-port={_free_port()}",
                ]
            else:
                args += [f"--address={address}"]
            with (temp / "ray-start.log").open("wb") as log:  # the child keeps its own descriptor
                process = subprocess.Popen(
                    args, env=cluster_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            nodes.append(Node(f"node{k}", process, temp))
            if k == 0:  # the others join it: wait until it runs
                _wait_for_nodes(address, cluster_env, nodes, start_timeout_s, status=False)
        _wait_for_nodes(address, cluster_env, nodes, start_timeout_s)
        yield Cluster(address, cluster_env, tuple(nodes))
    finally:
        for node in reversed(nodes):
            _stop(node.process)
        for temp in temps:
            shutil.rmtree(temp, ignore_errors=True)


def _wait_for_nodes(
    address: str, env: Mapping, nodes: list[Node], timeout_s: float, status: bool = True
) -> None:
    """Until every node's ``ray start`` says it started, then (``status``) until ``ray status`` lists them all as
    active (each ``ray status`` costs seconds, so it is asked only then); raises with a node's log if one exits
    first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for node in nodes:
            if node.process.poll() is not None:
                log = (node.temp_dir / "ray-start.log").read_text(errors="replace")
                raise RuntimeError(
                    f"ray start for {node.name} exited with {node.process.returncode}:\n{log[-3000:]}"
                )
        if not all(
            "Ray runtime started" in (n.temp_dir / "ray-start.log").read_text(errors="replace") for n in nodes
        ):
            time.sleep(0.2)
            continue
        if not status:
            return
        listed = subprocess.run(
            [str(RAY), "status", f"--address={address}"], env=env, capture_output=True, text=True, timeout=60
        )
        active = listed.stdout.split("Pending:")[0] if "Active:" in listed.stdout else ""
        if len(re.findall(r"\bnode_[0-9a-f]{8,}", active)) >= len(nodes):
            return
        time.sleep(1)
    raise TimeoutError(
        f"the Ray cluster at {address} did not reach {len(nodes)} nodes within {timeout_s:.0f} s"
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only this node's processes
            process.wait()
    # A node stopped gracefully has stopped its children; any left in its process group are killed.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
