"""The memory sampler of verl runs: what it measures and what it costs."""

import os
import time

import psutil

from moss_plugins.verl.smoke import TreeMemory


def test_the_sampler_waits_idle_times_as_long_as_a_sample_took(monkeypatch):
    # A sample that takes 0.1 s (a large tree) must be followed by >= 0.9 s of rest, not the 0.5 s interval:
    # the sampler's share of a core is bounded whatever the tree costs to read.
    real = psutil.Process.memory_full_info

    def slow(self):
        time.sleep(0.1)
        return real(self)

    monkeypatch.setattr(psutil.Process, "memory_full_info", slow)
    memory, waits = TreeMemory([os.getpid()], interval=0.5), []

    def wait(timeout):
        waits.append(timeout)
        memory._done.set()  # one sample is enough

    monkeypatch.setattr(memory._done, "wait", wait)
    memory.run()
    assert waits and waits[0] >= TreeMemory.idle * 0.1
    assert 0 < memory.peak_pss <= memory.peak_rss and os.getpid() in memory.seen


def test_a_cheap_sample_keeps_the_interval(monkeypatch):
    # One process reads in milliseconds, far under 5 s / idle
    memory, waits = TreeMemory([os.getpid()], interval=5.0), []
    monkeypatch.setattr(memory._done, "wait", lambda timeout: (waits.append(timeout), memory._done.set()))
    memory.run()
    assert waits == [5.0]
