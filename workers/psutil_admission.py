"""Admission control: don't start a build on a host that is already out of memory or CPU.

`probe` measures the host; `check` compares a measurement with the configured thresholds
(WEBBUILDER_MAX_MEMORY_PERCENT, WEBBUILDER_MAX_CPU_PERCENT). Tests and benchmarks replace `probe` to
simulate load: the worker actor looks it up on this module at every claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psutil

from workers.config import settings
from workers.scheduler import Admission

CPU_SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class HostLoad:
    memory_percent: float
    cpu_percent: float


def measure() -> HostLoad:
    return HostLoad(psutil.virtual_memory().percent, psutil.cpu_percent(interval=CPU_SAMPLE_SECONDS))


probe: Callable[[], HostLoad] = measure


def check() -> Admission:
    cfg = settings()
    load = probe()
    if load.memory_percent > cfg.max_memory_percent:
        return Admission(False, f"memory {load.memory_percent:.0f}% > {cfg.max_memory_percent:.0f}%")
    if load.cpu_percent > cfg.max_cpu_percent:
        return Admission(False, f"CPU {load.cpu_percent:.0f}% > {cfg.max_cpu_percent:.0f}%")
    return Admission(True)
