"""Run a per-item function in-process or as Ray tasks, with a progress bar fed by finished work.

Both paths call the same ``fn(item, shared)``; Ray only changes where it runs. Results come back in input
order whatever order the tasks finish in, so the output of a build does not depend on the scheduler.
Items travel in chunks (one Ray task per chunk) so that tens of thousands of small videos do not pay the
per-task overhead one by one; ``shared`` (read-only, e.g. a distractor pool) is put in the object store once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RayOptions:
    """``address=None`` starts a local Ray (``num_cpus`` of this machine, all by default); otherwise connect to
    that cluster ("auto", "ray://head:10001", ...), whose workers must have moss-plugins installed and see the
    same file paths (a shared file system) as this machine."""

    address: str | None = None
    num_cpus: int | None = None
    chunk_size: int = 8
    in_flight_per_cpu: int = 4  # chunks queued per CPU: enough to keep workers busy, bounded memory


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """The Ray module, initialized; a session that is already running (a notebook, a test) is reused as is."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    if options.address:
        ray.init(address=options.address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=options.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


def _run_chunk(fn: Callable[[T, Any], R], chunk: Sequence[T], shared: Any) -> list[R]:
    return [fn(item, shared) for item in chunk]


def run_map(
    fn: Callable[[T, Any], R],
    items: Sequence[T],
    shared: Any = None,
    ray: RayOptions | None = None,
    desc: str = "items",
    unit: str = "item",
) -> list[R]:
    """``[fn(item, shared) for item in items]``, in-process (``ray=None``) or on Ray, with a progress bar."""
    with tqdm(total=len(items), desc=desc, unit=unit, dynamic_ncols=True) as bar:
        if ray is None:
            results = []
            for item in items:
                results.append(fn(item, shared))
                bar.update(1)
            return results
        return _run_on_ray(fn, items, shared, ray, bar)


def _run_on_ray(fn, items, shared, options: RayOptions, bar) -> list:
    with ray_session(options) as ray:
        remote = ray.remote(num_cpus=1)(_run_chunk)
        shared_ref = ray.put(shared)  # one copy in the object store, resolved by Ray in every task
        size = max(1, options.chunk_size)
        chunks = [(start, items[start : start + size]) for start in range(0, len(items), size)]
        window = max(1, int(ray.cluster_resources().get("CPU", 1) * options.in_flight_per_cpu))
        results: list = [None] * len(items)
        pending: dict = {}
        next_chunk = 0
        while next_chunk < len(chunks) or pending:
            while next_chunk < len(chunks) and len(pending) < window:
                start, chunk = chunks[next_chunk]
                pending[remote.remote(fn, chunk, shared_ref)] = (start, len(chunk))
                next_chunk += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                start, n = pending.pop(ref)
                results[start : start + n] = ray.get(ref)
                bar.update(n)
        return results
