"""The maintenance that keeps the queue moving after failures: reaping the jobs of dead workers,
then waking enough workers for the jobs that wait (`wake`).

A job whose worker died is found two ways: its lease expired (any host), or its worker id names a
process of this host that no longer exists, which a restarted worker notices at boot instead of
waiting out the lease. What the dead worker's build left running is killed with its cgroup.
"""

from __future__ import annotations

import logging
import socket

import psutil
from sqlmodel import Session, col, select

from workers.build import sandbox
from workers.config import settings
from workers.jobs import build_cache, retention
from workers.notify import bell
from workers.queue.scheduler import MAX_ATTEMPTS, expired_jobs, running_count, waiting_count
from workers.queue.wake import wake
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.models import IN_FLIGHT_STATUSES, BuildJob, JobStatus, as_utc, utcnow

log = logging.getLogger(__name__)


def _process_gone(pid: int, claimed_at) -> bool:
    """No such process, or the pid now belongs to a process started after the claim."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    return claimed_at is not None and started > claimed_at.timestamp() + 1


def orphaned_jobs(session: Session) -> list[BuildJob]:
    """In-flight jobs claimed by a worker process of this host that has died (worker ids are
    'host:pid:thread', see actors.worker_id)."""
    prefix = f"{socket.gethostname()}:"
    jobs = session.exec(
        select(BuildJob).where(col(BuildJob.status).in_(IN_FLIGHT_STATUSES), col(BuildJob.worker_id).startswith(prefix))
    ).all()
    orphans = []
    for job in jobs:
        pid = job.worker_id[len(prefix):].split(":", 1)[0]
        if pid.isdigit() and _process_gone(int(pid), as_utc(job.started_at)):
            orphans.append(job)
    return orphans


def reap_expired(session: Session) -> list[BuildJob]:
    """Requeue jobs whose worker died; fail a job that has killed its worker too often."""
    changed = []
    dead = {job.id: job for job in [*expired_jobs(session), *orphaned_jobs(session)]}
    for job in dead.values():
        job.worker_id, job.lease_expires_at = None, None
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.completed_at = JobStatus.FAILED, utcnow()
            job.error = f"the worker died {job.attempts} times while building this job (last step: {job.current_step})"
            job.current_step = "failed: worker died"
            bell.notify(session, job, "failed", "Build failed", job.error, bell.retry_action_url(job.id))
        else:
            job.status, job.progress = JobStatus.QUEUED, 0
            job.current_step = f"requeued after its worker died (attempt {job.attempts} of {MAX_ATTEMPTS})"
        changed.append(job)
    return changed


def maintain() -> None:
    """Run periodically in every worker process: reap dead builds, then wake enough workers."""
    sandbox.sweep_orphans()  # build processes of dead workers, before their jobs run again
    with session_scope() as session:
        reaped = reap_expired(session)
        for job in bell.send_missed_final_notices(session):
            log.warning("job %s ended without its final notice; sent it now", job.id)
        retention.sweep(session)
        events.after_commit(session, *(Notice(Change.JOB, job.user_id, job.id) for job in reaped))
    build_cache.release_followers()  # followers of a job that just failed or was cancelled
    with session_scope() as session:
        waiting = waiting_count(session)
        free = settings().max_concurrent_builds - running_count(session)
    for job in reaped:
        log.warning("job %s: %s", job.id, job.current_step)
    if waiting and free > 0:
        wake(min(waiting, free))
