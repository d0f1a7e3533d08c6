"""Admission control: don't start a build on a host that is already out of memory or CPU."""

from __future__ import annotations

import psutil

from workers.config import settings
from workers.scheduler import Admission


def check() -> Admission:
    cfg = settings()
    memory = psutil.virtual_memory().percent
    if memory > cfg.max_memory_percent:
        return Admission(False, f"memory {memory:.0f}% > {cfg.max_memory_percent:.0f}%")
    cpu = psutil.cpu_percent(interval=0.2)
    if cpu > cfg.max_cpu_percent:
        return Admission(False, f"CPU {cpu:.0f}% > {cfg.max_cpu_percent:.0f}%")
    return Admission(True)
