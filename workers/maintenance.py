"""A thread in each worker process that runs `dispatch.maintain()` at boot and every few seconds.

At boot the worker also says how builds are confined, loudly when they are not sandboxed.

At boot it re-dispatches whatever the database says is waiting (Redis may have restarted empty);
afterwards it requeues jobs whose worker died and re-sends lost wakes.
"""

from __future__ import annotations

import logging
import threading

from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0


class MaintenanceMiddleware(Middleware):
    def __init__(self, interval: float = INTERVAL_SECONDS):
        self.interval = interval
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker):
        from workers import sandbox
        from workers.config import settings

        cfg = settings()
        sandboxed = sandbox.host().bwrap is not None
        for line in sandbox.describe(cfg.build_memory_mb, cfg.build_pids_max):
            log.log(logging.INFO if sandboxed else logging.WARNING, line)
        threading.Thread(target=self._loop, name="webbuilder-maintenance", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()

    def _loop(self) -> None:
        from workers.dispatch import maintain
        from workers.ops import beat

        while True:
            beat()  # the ops page's "workers alive"
            try:
                maintain()
            except Exception:
                log.exception("maintenance failed; retrying in %.0f s", self.interval)
            if self._stop.wait(self.interval):
                return
