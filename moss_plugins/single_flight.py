"""A thread-safe LRU cache in which concurrent callers asking for the same missing key share one computation.

A GRPO group's rollouts arrive together: its n reward calls want the same prepared reference
(:mod:`moss_plugins.reward.score`), its n agent loops the same decoded video (:mod:`moss_plugins.verl.frames`).
A plain ``lru_cache`` lets all n miss at once and compute n times; here the first computes and the others wait
for its result. Framework-free and importing nothing of ours, so any layer may use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any


class SingleFlight:
    """``get(key, load, capacity)``: the cached value of ``key``, else ``load()`` run once however many threads
    ask at the same time. A failed ``load`` is not cached: its exception reaches the caller that ran it and every
    caller that was waiting for it, and the next request runs ``load`` again.

    ``requests`` counts every ``get``, ``loads`` every successful ``load`` (what a cache's use is judged by).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, Future] = {}
        self.requests = 0
        self.loads = 0

    def get(self, key: Hashable, load: Callable[[], Any], capacity: int) -> Any:
        """The value of ``key``; at most ``capacity`` values are kept (the least recently used go first)."""
        with self._lock:
            self.requests += 1
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            running = self._running.get(key)
            owner = running is None
            if owner:
                running = self._running[key] = Future()
        if not owner:
            return running.result()
        try:
            value = load()
        except BaseException as e:
            with self._lock:
                del self._running[key]
            running.set_exception(e)
            raise
        with self._lock:
            self.loads += 1
            self._done[key] = value
            while len(self._done) > capacity:
                self._done.popitem(last=False)
            del self._running[key]
        running.set_result(value)
        return value

    def clear(self) -> None:
        """Forget every value and reset the counts (a computation under way still finishes and is kept)."""
        with self._lock:
            self._done.clear()
            self.requests = self.loads = 0
