"""Admission control: don't start a build on a host that is already out of memory or CPU.

`probe` measures the host; `check` compares a measurement with the configured thresholds
(WEBBUILDER_MAX_MEMORY_PERCENT, WEBBUILDER_MAX_CPU_PERCENT). Tests and benchmarks replace `probe` to
simulate load: the worker actor looks it up on this module at every claim.

CPU use needs two readings some time apart. Sampling it during the claim held every build's start
0.2 s (most of the time between an upload and its build starting); a thread per worker process keeps
the last second's figure instead, so a claim reads it at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from workers.config import settings
from workers.queue.scheduler import Admission

CPU_SAMPLE_SECONDS = 0.2  # the first reading in a process, before the monitor has one
CPU_WINDOW_SECONDS = 1.0


@dataclass(frozen=True)
class HostLoad:
    memory_percent: float
    cpu_percent: float


class CpuMonitor:
    """Host CPU use over the last window, kept by a daemon thread started at the first reading (in
    the process that reads it: a forked child starts its own)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest = 0.0
        self._sampler_pid: int | None = None

    def percent(self) -> float:
        with self._lock:
            if self._sampler_pid != os.getpid():
                self._latest = psutil.cpu_percent(interval=CPU_SAMPLE_SECONDS)
                self._sampler_pid = os.getpid()
                threading.Thread(target=self._sample, name="cpu-monitor", daemon=True).start()
            return self._latest

    def _sample(self) -> None:
        while True:
            self._latest = psutil.cpu_percent(interval=CPU_WINDOW_SECONDS)


_cpu = CpuMonitor()


def measure() -> HostLoad:
    return HostLoad(psutil.virtual_memory().percent, _cpu.percent())


probe: Callable[[], HostLoad] = measure


def check() -> Admission:
    cfg = settings()
    load = probe()
    if load.memory_percent > cfg.max_memory_percent:
        return Admission(False, f"memory {load.memory_percent:.0f}% > {cfg.max_memory_percent:.0f}%")
    if load.cpu_percent > cfg.max_cpu_percent:
        return Admission(False, f"CPU {load.cpu_percent:.0f}% > {cfg.max_cpu_percent:.0f}%")
    return Admission(True)
