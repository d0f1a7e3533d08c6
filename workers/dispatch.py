"""Waking workers, and the maintenance that keeps the queue moving after failures.

A wake message carries no job: the worker that takes it asks the database for the next job. So a
lost message (Redis restarted empty) costs nothing but time, and `maintain()` re-sends wakes while
jobs wait and slots are free.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, func, select

from workers import events
from workers.db import session_scope
from workers.jobs import notify
from workers.models import BuildJob, JobStatus, utcnow
from workers.scheduler import MAX_ATTEMPTS, expired_jobs, running_count
from workers.config import settings

log = logging.getLogger(__name__)


def wake(count: int = 1) -> None:
    """Ask `count` workers to look for work. Never raises: the periodic maintenance retries."""
    from workers.actors import run_next_build

    try:
        for _ in range(count):
            run_next_build.send()
    except Exception as exc:
        log.warning("could not wake a worker (will retry from maintenance): %s", exc)


def reap_expired(session: Session) -> list[BuildJob]:
    """Requeue jobs whose worker died; fail a job that has killed its worker too often."""
    changed = []
    for job in expired_jobs(session):
        job.worker_id, job.lease_expires_at = None, None
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.completed_at = JobStatus.FAILED, utcnow()
            job.error = f"the worker died {job.attempts} times while building this job (last step: {job.current_step})"
            job.current_step = "failed: worker died"
            notify(session, job, "failed", "Build failed", job.error, f"/jobs/{job.id}")
        else:
            job.status, job.progress = JobStatus.QUEUED, 0
            job.current_step = f"requeued after its worker died (attempt {job.attempts} of {MAX_ATTEMPTS})"
        changed.append(job)
    return changed


def maintain() -> None:
    """Run periodically in every worker process: reap dead builds, then wake enough workers."""
    with session_scope() as session:
        reaped = reap_expired(session)
        waiting = session.exec(select(func.count()).select_from(BuildJob).where(BuildJob.status == JobStatus.QUEUED)).one()
        free = settings().max_concurrent_builds - running_count(session)
    for job in reaped:
        log.warning("job %s: %s", job.id, job.current_step)
        events.publish("job_update", job.user_id, job.id)
    if waiting and free > 0:
        wake(min(waiting, free))
