"""The single-flight LRU shared by the reward's reference cache and verl's decode cache."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from moss_plugins.single_flight import SingleFlight

N = 8


def gated_load(value, started: threading.Event, release: threading.Event, calls: list):
    """A load that signals it started and then waits, so that every other caller arrives while it runs."""

    def load():
        calls.append(1)
        started.set()
        assert release.wait(10)
        if isinstance(value, BaseException):
            raise value
        return value

    return load


def concurrent_gets(cache: SingleFlight, value) -> tuple[list, list]:
    """N threads ask for one key while its first load is running: (what each got or raised, the loads run)."""
    started, release, calls = threading.Event(), threading.Event(), []
    load = gated_load(value, started, release, calls)

    def ask(_):
        try:
            return cache.get("key", load, capacity=4)
        except ValueError as e:
            return e

    with ThreadPoolExecutor(N) as pool:
        first = pool.submit(ask, 0)
        assert started.wait(10)
        rest = [pool.submit(ask, k) for k in range(1, N)]
        while cache.requests < N:  # all of them are waiting on the running load
            threading.Event().wait(0.001)
        release.set()
        return [first.result(), *(f.result() for f in rest)], calls


def test_concurrent_callers_of_one_key_share_one_load():
    cache = SingleFlight()
    value = object()
    got, calls = concurrent_gets(cache, value)
    assert len(calls) == 1 and all(g is value for g in got)
    assert (cache.requests, cache.loads) == (N, 1)
    assert cache.get("key", lambda: pytest.fail("cached: no load"), capacity=4) is value


def test_a_failed_load_reaches_every_waiter_and_is_not_cached():
    cache = SingleFlight()
    error = ValueError("bad reference")
    got, calls = concurrent_gets(cache, error)
    assert len(calls) == 1 and all(g is error for g in got)
    assert cache.loads == 0
    assert cache.get("key", lambda: "again", capacity=4) == "again"  # the next request loads again
    assert cache.loads == 1


def test_least_recently_used_values_go_first_and_clear_resets():
    cache, loads = SingleFlight(), []

    def get(key):
        return cache.get(key, lambda: loads.append(key) or key.upper(), capacity=2)

    assert [get("a"), get("b"), get("a"), get("c")] == ["A", "B", "A", "C"]  # "b" is now the least recent
    assert loads == ["a", "b", "c"]
    get("a")
    get("b")
    assert loads == ["a", "b", "c", "b"]
    cache.clear()
    assert (cache.requests, cache.loads) == (0, 0)
    get("a")
    assert loads[-1] == "a"


def test_different_keys_load_concurrently():
    """One slow load does not hold up another key's (the reward's old global lock did)."""
    cache = SingleFlight()
    started, release, calls = threading.Event(), threading.Event(), []
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(cache.get, "slow", gated_load("S", started, release, calls), 4)
        assert started.wait(10)
        assert cache.get("fast", lambda: "F", 4) == "F"  # while "slow" is still loading
        release.set()
        assert slow.result() == "S"
