"""A thread in each worker process that runs `reaper.maintain()` at boot and every few seconds.

At boot the worker also says how builds are confined, loudly when they are not sandboxed, and, once
per data folder, cleans sites published before dotfiles and links were left out (workers.build.publishing).

At boot it re-dispatches whatever the database says is waiting (Redis may have restarted empty);
afterwards it requeues jobs whose worker died and re-sends lost wakes. A second thread sweeps webhook
and email deliveries whose wake was lost, in a thread of its own so a slow receiver cannot delay the
reaper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0


class MaintenanceMiddleware(Middleware):
    def __init__(self, interval: float = INTERVAL_SECONDS):
        self.interval = interval
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker):
        from workers.build import sandbox
        from workers.config import settings

        cfg = settings()
        sandboxed = sandbox.host().bwrap is not None
        for line in sandbox.describe(cfg.build_memory_mb, cfg.build_pids_max, cfg.build_disk_mb):
            log.log(logging.INFO if sandboxed else logging.WARNING, line)
        if refused := sandbox.refusal():
            log.error("%s; every job this worker takes fails with this message until it is fixed", refused)
        threading.Thread(target=self._loop, args=("maintenance", _maintain), name="webbuilder-maintenance", daemon=True).start()
        threading.Thread(target=self._loop, args=("the delivery sweep", _sweep_deliveries), name="webbuilder-deliveries", daemon=True).start()
        threading.Thread(target=_sweep_published_sites, name="webbuilder-site-sweep", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()

    def _loop(self, name: str, task: Callable[[], object]) -> None:
        while True:
            try:
                task()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", name, self.interval)
            if self._stop.wait(self.interval):
                return


def _maintain() -> None:
    from workers.jobs.reaper import maintain
    from workers.queue.heartbeats import beat

    beat()  # the ops page's "workers alive"; never raises
    maintain()


def _sweep_published_sites() -> None:
    """Once per data folder: sites published before dotfiles and links were left out lose them. At
    each start: files of retired deployments a crash left on disk."""
    from workers.build.publishing import sweep_published
    from workers.jobs.retention import remove_leftovers

    try:
        sweep_published()
        if removed := remove_leftovers():
            log.warning("removed the files of %d retired deployments left on disk", removed)
    except Exception:
        log.exception("the sweep of published sites failed; it runs again at the next worker start")


def _sweep_deliveries() -> None:
    from workers.notify.deliveries import sweep

    sweep()
