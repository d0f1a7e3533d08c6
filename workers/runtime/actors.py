"""Dramatiq actors. `dramatiq workers.runtime.actors` starts a worker process with these."""

from __future__ import annotations

import os
import socket
import threading

import dramatiq

from workers.config import settings
from workers.jobs.pipeline import run_job
from workers.notify import deliveries
from workers.queue import psutil_admission
from workers.queue.scheduler import claim
from workers.queue.wake import wake
from workers.runtime.maintenance import MaintenanceMiddleware
from workers.store import broker

_broker = broker.configure()
_broker.add_middleware(MaintenanceMiddleware())


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dramatiq.actor(actor_name=broker.RUN_NEXT_BUILD[0], queue_name=broker.RUN_NEXT_BUILD[1], max_retries=0,
                time_limit=(settings().build_timeout + 300) * 1000)
def run_next_build() -> None:
    """Claim the next job in the database's order, build it, then look for more."""
    me = worker_id()
    job_id = claim(me, admission=psutil_admission.check)
    if job_id is None:
        return
    try:
        run_job(job_id, me)
    finally:
        wake()


@dramatiq.actor(actor_name=broker.SEND_DELIVERY[0], queue_name=broker.SEND_DELIVERY[1], max_retries=0,
                time_limit=deliveries.CLAIM_SECONDS * 1000)
def send_delivery(delivery_id: int) -> None:
    """Attempt one webhook or email if it is still due. Retries are scheduled by `deliveries` from
    the database (with the waits the user was promised), not by Dramatiq."""
    deliveries.attempt(delivery_id)
