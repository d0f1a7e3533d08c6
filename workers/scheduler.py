"""Which queued job runs next, decided in the database.

Redis delivers messages FIFO and Dramatiq's priority only orders what a worker already prefetched, so
the order lives here: effective priority (upload priority plus a capped boost for waiting), then
round-robin across users inside a priority level. The same ordering gives queue positions and ETAs,
so what the user is told is what the dispatcher does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from workers.config import Settings, settings
from workers.models import IN_FLIGHT_STATUSES, BuildJob, JobStatus, SchedulerState, utcnow

LEASE_SECONDS = 30
MAX_ATTEMPTS = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def effective_priority(job: BuildJob, now: datetime, cfg: Settings) -> int:
    waited = max(0.0, (now - job.created_at).total_seconds())
    boost = min(cfg.aging_max_boost, math.floor(waited / cfg.aging_seconds_per_point))
    return job.priority + boost


def order_queue(
    jobs: Sequence[BuildJob],
    last_start_by_user: dict[int, datetime],
    now: datetime,
    cfg: Settings,
) -> list[BuildJob]:
    """Dispatch order: highest effective priority first; within a level, each user's first job
    before anyone's second, users who started least recently first; then oldest first."""
    level = {job.id: effective_priority(job, now, cfg) for job in jobs}
    by_user_level: dict[tuple[int, int], list[BuildJob]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: (j.created_at, j.id)):
        by_user_level[(job.user_id, level[job.id])].append(job)
    turn = {job.id: index for group in by_user_level.values() for index, job in enumerate(group)}
    return sorted(
        jobs,
        key=lambda j: (
            -level[j.id],
            turn[j.id],
            last_start_by_user.get(j.user_id, _EPOCH),
            j.created_at,
            j.id,
        ),
    )


def _last_start_by_user(session: Session) -> dict[int, datetime]:
    rows = session.exec(
        select(BuildJob.user_id, func.max(BuildJob.started_at)).group_by(BuildJob.user_id)
    ).all()
    return {user_id: started for user_id, started in rows if started is not None}


def queued_in_order(session: Session, now: datetime | None = None) -> list[BuildJob]:
    now = now or utcnow()
    queued = session.exec(select(BuildJob).where(BuildJob.status == JobStatus.QUEUED)).all()
    return order_queue(queued, _last_start_by_user(session), now, settings())


def running_count(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(BuildJob).where(col(BuildJob.status).in_(IN_FLIGHT_STATUSES))
    ).one()


@dataclass(frozen=True)
class Admission:
    admitted: bool
    reason: str = ""


def _lock(session: Session) -> SchedulerState:
    """Take the scheduler row lock: an UPDATE blocks other claimers until this transaction ends
    (row lock on PostgreSQL, the database write lock on SQLite)."""
    session.exec(update(SchedulerState).where(SchedulerState.id == 1).values(claims=SchedulerState.claims + 1))
    state = session.get(SchedulerState, 1)
    if state is None:  # a database created without the migration's seed row
        state = SchedulerState(id=1)
        session.add(state)
        session.flush()
    return state


def claim_next_job(
    session: Session,
    worker_id: str,
    admission: Callable[[], Admission] | None = None,
    now: datetime | None = None,
) -> BuildJob | None:
    """Atomically move the next queued job to `building` for this worker, or return None when the
    queue is empty, dispatching is paused, every slot is taken, or the host is too loaded.
    The caller commits."""
    now = now or utcnow()
    cfg = settings()
    state = _lock(session)
    if state.paused or running_count(session) >= cfg.max_concurrent_builds:
        return None
    ordered = queued_in_order(session, now)
    if not ordered:
        return None
    if admission is not None and not (verdict := admission()).admitted:
        for job in ordered:
            job.current_step = f"waiting for resources: {verdict.reason}"
        return None
    job = ordered[0]
    job.status = JobStatus.BUILDING
    job.started_at = now
    job.worker_id = worker_id
    job.lease_expires_at = now + timedelta(seconds=LEASE_SECONDS)
    job.attempts += 1
    job.current_step = "starting"
    job.progress = 0
    session.add(job)
    return job


def renew_lease(session: Session, job_id: int, worker_id: str) -> bool:
    """Extend the lease; False when the job is no longer ours (reaped, or finished elsewhere)."""
    result = session.exec(
        update(BuildJob)
        .where(BuildJob.id == job_id, BuildJob.worker_id == worker_id, col(BuildJob.status).in_(IN_FLIGHT_STATUSES))
        .values(lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
    )
    return result.rowcount == 1


def expired_jobs(session: Session, now: datetime | None = None) -> list[BuildJob]:
    """In-flight jobs whose worker stopped renewing its lease (killed, machine gone)."""
    now = now or utcnow()
    return list(
        session.exec(
            select(BuildJob).where(
                col(BuildJob.status).in_(IN_FLIGHT_STATUSES), col(BuildJob.lease_expires_at) < now
            )
        ).all()
    )
