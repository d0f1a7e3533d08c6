"""Which queued job runs next, decided in the database.

Redis delivers messages FIFO and Dramatiq's priority only orders what a worker already prefetched, so
the order lives here. Jobs are grouped by their upload priority; inside a group the next slot goes
round-robin across users (each user's oldest job first, the user who started least recently first),
so one user's 50 uploads do not block another user's one. Between groups the one whose oldest job has
the highest effective priority wins: upload priority plus a capped boost for waiting, so a low job is
never starved by a stream of higher ones. Aging only arbitrates between groups: within a group every
job ages at the same rate, and letting age decide there would undo the round-robin.

The same ordering gives queue positions and ETAs, so what the user is told is what the dispatcher does.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from workers.config import Settings, settings
from workers.queue.wake import wake
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.models import IN_FLIGHT_STATUSES, BuildJob, JobStatus, SchedulerState, utcnow

LEASE_SECONDS = 30
MAX_ATTEMPTS = 3
WAITING_FOR_RESOURCES = "waiting for resources"
NEVER = 0.0  # "last started" of a user who never started a build: first in line


@dataclass(frozen=True)
class QueuedJob:
    """What the ordering needs, with the upload time as seconds since the epoch (computed by the
    database: parsing 1,000 timestamps in Python was most of a pick's time)."""

    id: int
    user_id: int
    priority: int
    uploaded: float


@dataclass(frozen=True)
class Admission:
    admitted: bool
    reason: str = ""


def effective_priority(job: QueuedJob, now: datetime, cfg: Settings) -> int:
    waited = max(0.0, now.timestamp() - job.uploaded)
    boost = min(cfg.aging_max_boost, math.floor(waited / cfg.aging_seconds_per_point))
    return job.priority + boost


def _round_robin(jobs: list[QueuedJob], last_start_by_user: dict[int, float]) -> deque[QueuedJob]:
    """One priority group in dispatch order: every user's first job before anyone's second."""
    turn: dict[int, int] = {}
    seen: dict[int, int] = defaultdict(int)
    for job in jobs:  # oldest first
        turn[job.id] = seen[job.user_id]
        seen[job.user_id] += 1
    return deque(
        sorted(jobs, key=lambda j: (turn[j.id], last_start_by_user.get(j.user_id, NEVER), j.uploaded, j.id))
    )


def order_queue(
    jobs: Sequence[QueuedJob],
    last_start_by_user: dict[int, float],
    now: datetime,
    cfg: Settings,
) -> list[QueuedJob]:
    """The whole queue in the order slots will be given, as the dispatcher would pick one by one."""
    effective = {job.id: effective_priority(job, now, cfg) for job in jobs}
    groups: dict[int, list[QueuedJob]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: (j.uploaded, j.id)):
        groups[job.priority].append(job)
    by_age = {priority: deque(members) for priority, members in groups.items()}
    fair = {priority: _round_robin(members, last_start_by_user) for priority, members in groups.items()}
    taken: set[int] = set()
    order: list[QueuedJob] = []
    while len(order) < len(jobs):
        oldest_waiting = []
        for ages in by_age.values():
            while ages and ages[0].id in taken:
                ages.popleft()
            if ages:
                oldest_waiting.append(ages[0])
        winner = max(oldest_waiting, key=lambda j: _group_key(j, effective[j.id]))
        job = fair[winner.priority].popleft()
        taken.add(job.id)
        order.append(job)
    return order


def _group_key(oldest: QueuedJob, effective: int) -> tuple:
    """Which priority group gets the slot: the highest effective priority of its oldest job; on a
    tie the group waiting longest, then the higher group."""
    return (effective, -oldest.uploaded, oldest.priority)


def first_in_order(
    jobs: Sequence[QueuedJob],
    last_start_by_user: dict[int, float],
    now: datetime,
    cfg: Settings,
) -> QueuedJob | None:
    """`order_queue(...)[0]` in one pass, without ordering the rest: all a claim needs."""
    oldest: dict[int, QueuedJob] = {}
    for job in jobs:
        if job.priority not in oldest or (job.uploaded, job.id) < (oldest[job.priority].uploaded, oldest[job.priority].id):
            oldest[job.priority] = job
    if not oldest:
        return None
    group = max(oldest.values(), key=lambda j: _group_key(j, effective_priority(j, now, cfg))).priority
    users_first: dict[int, QueuedJob] = {}  # each user's oldest job in the group: their turn 0
    for job in jobs:
        mine = users_first.get(job.user_id)
        if job.priority == group and (mine is None or (job.uploaded, job.id) < (mine.uploaded, mine.id)):
            users_first[job.user_id] = job
    return min(users_first.values(), key=lambda j: (last_start_by_user.get(j.user_id, NEVER), j.uploaded, j.id))


def _epoch_seconds(session: Session, column):
    """A timestamp column as seconds since the epoch, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":  # stored as UTC text
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


def _last_start_by_user(session: Session, user_ids: Iterable[int]) -> dict[int, float]:
    table = BuildJob.__table__
    rows = session.connection().execute(
        select(table.c.user_id, func.max(_epoch_seconds(session, table.c.started_at)))
        .where(table.c.user_id.in_(set(user_ids)))
        .group_by(table.c.user_id)
    ).all()
    return {user_id: float(started) for user_id, started in rows if started is not None}


def _queued(session: Session) -> list[QueuedJob]:
    """Jobs waiting for a slot. Jobs following an identical build are `pending` and never here."""
    table = BuildJob.__table__
    # Core, not ORM: at 1,000 rows the ORM's per-row bookkeeping is most of a pick's time.
    rows = session.connection().execute(
        select(table.c.id, table.c.user_id, table.c.priority, _epoch_seconds(session, table.c.created_at)).where(
            table.c.status == JobStatus.QUEUED
        )
    ).all()
    return [QueuedJob(id, user_id, priority, float(uploaded)) for id, user_id, priority, uploaded in rows]


def queued_in_order(session: Session, now: datetime | None = None) -> list[QueuedJob]:
    """The queue in dispatch order, for positions and ETAs."""
    queued = _queued(session)
    if not queued:
        return []
    return order_queue(queued, _last_start_by_user(session, {j.user_id for j in queued}), now or utcnow(), settings())


def next_queued(session: Session, now: datetime | None = None) -> QueuedJob | None:
    """The job the dispatcher starts next."""
    queued = _queued(session)
    if not queued:
        return None
    return first_in_order(queued, _last_start_by_user(session, {j.user_id for j in queued}), now or utcnow(), settings())


def running_count(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(BuildJob).where(col(BuildJob.status).in_(IN_FLIGHT_STATUSES))
    ).one()


def waiting_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(BuildJob).where(BuildJob.status == JobStatus.QUEUED)).one()


def _lock(session: Session) -> SchedulerState:
    """Take the scheduler row lock: an UPDATE blocks other claimers until this transaction ends
    (row lock on PostgreSQL, the database write lock on SQLite)."""
    table = SchedulerState.__table__
    session.connection().execute(update(table).where(table.c.id == 1).values(claims=table.c.claims + 1))
    state = session.get(SchedulerState, 1)
    if state is None:  # a database created without the migration's seed row
        state = SchedulerState(id=1)
        session.add(state)
        session.flush()
    return state


def _show_waiting(session: Session, head: BuildJob | None, reason: str = "") -> bool:
    """Only the job that would start next says it waits for resources; the others just wait.
    Returns whether the head's text changed (worth telling its user)."""
    table = BuildJob.__table__
    others = update(table).where(table.c.status == JobStatus.QUEUED, table.c.current_step.startswith(WAITING_FOR_RESOURCES))
    if head is not None:
        others = others.where(table.c.id != head.id)
    session.connection().execute(others.values(current_step="queued"))
    if head is None:
        return False
    text = f"{WAITING_FOR_RESOURCES}: {reason}"[:64]
    changed = head.current_step != text
    head.current_step = text
    return changed


def claim_next_job(
    session: Session,
    worker_id: str,
    admission: Callable[[], Admission] | None = None,
    now: datetime | None = None,
) -> BuildJob | None:
    """Atomically move the next queued job to `building` for this worker, or return None when the
    queue is empty, dispatching is paused, every slot is taken, or the host is too loaded (then the
    head of the queue shows "waiting for resources: <why>"). The caller commits."""
    verdict = None
    if admission is not None and waiting_count(session):
        verdict = admission()  # measured before taking the lock: sampling CPU takes a moment
    state = _lock(session)
    now = now or utcnow()  # read after the lock: the start time is never before the slot came free
    if state.paused or running_count(session) >= settings().max_concurrent_builds:
        return None
    head = next_queued(session, now)
    if head is None:
        return None
    job = session.get(BuildJob, head.id)
    if verdict is not None and not verdict.admitted:
        if _show_waiting(session, job, verdict.reason):
            session.info["now_waiting"] = (job.user_id, job.id)
        return None
    _show_waiting(session, None)
    job.status = JobStatus.BUILDING
    job.started_at = now
    job.worker_id = worker_id
    job.lease_expires_at = now + timedelta(seconds=LEASE_SECONDS)
    job.attempts += 1
    job.current_step = "starting"
    job.progress = 0
    session.add(job)
    return job


def queued_user_ids(session: Session) -> set[int]:
    return set(session.exec(select(BuildJob.user_id).where(BuildJob.status == JobStatus.QUEUED).distinct()).all())


def claim(worker_id: str, admission: Callable[[], Admission] | None = None) -> int | None:
    """A worker's whole turn at the queue: claim in one transaction, then, after the commit, tell the
    users whose queue moved (positions and ETAs changed) so their pages re-read them."""
    with session_scope() as session:
        job = claim_next_job(session, worker_id, admission)
        job_id, owner = (job.id, job.user_id) if job else (None, None)
        now_waiting = session.info.pop("now_waiting", None)
        moved = queued_user_ids(session) if job else set()
        notices = [Notice(Change.JOB, owner, job_id)] if owner is not None else []
        if now_waiting is not None:
            notices.append(Notice(Change.JOB, *now_waiting))
        notices += [Notice(Change.QUEUE, user_id) for user_id in moved - {owner}]
        events.after_commit(session, *notices)
    return job_id


def set_paused(paused: bool) -> None:
    """Stop or restart handing out slots (running builds carry on). For the operators' page."""
    with session_scope() as session:
        _lock(session).paused = paused
    if not paused:
        wake(settings().max_concurrent_builds)


def dispatching_paused() -> bool:
    with session_scope() as session:
        state = session.get(SchedulerState, 1)
        return bool(state and state.paused)


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
