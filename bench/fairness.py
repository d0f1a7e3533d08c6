"""A priority/fairness trace: three users, mixed priorities, one build slot, simulated time.

Jobs are uploaded on a schedule, every build takes BUILD_SECONDS, and the real dispatcher (the same
claim the workers make, against a real database) is asked for the next job whenever the slot frees;
only the clock is simulated. Aging: one point per AGING_SECONDS_PER_POINT waited, at most
AGING_MAX_BOOST points (the defaults).

- alice uploads two Low (-5) jobs at t=0;
- bob uploads a Normal job every 50 s from t=0 to t=600, more than one slot can serve;
- carol uploads one High (+5) job at t=120 and two Normal jobs at t=130.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from workers.queue.scheduler import claim_next_job
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, User, Website

from .environment import installation

BUILD_SECONDS = 60
PRIORITY_NAMES = {-5: "Low", 0: "Normal", 5: "High"}
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Start:
    job_id: int
    user: str
    priority: int
    uploaded: float
    started: float

    @property
    def waited(self) -> float:
        return self.started - self.uploaded


def uploads() -> list[tuple[float, str, int]]:
    plan = [(0.0, "alice", -5), (0.0, "alice", -5)]
    plan += [(float(t), "bob", 0) for t in range(0, 601, 50)]
    plan += [(120.0, "carol", 5), (130.0, "carol", 0), (130.0, "carol", 0)]
    return sorted(plan, key=lambda upload: upload[0])


def run(redis_url: str, log=print) -> list[Start]:
    plan = uploads()
    starts: list[Start] = []
    with installation(redis_url, WEBBUILDER_MAX_CONCURRENT_BUILDS="1", WEBBUILDER_AGING_SECONDS_PER_POINT="60", WEBBUILDER_AGING_MAX_BOOST="10"):
        with session_scope() as session:
            users = {name: User(username=name, password_hash="-") for name in ("alice", "bob", "carol")}
            session.add_all(users.values())
            session.flush()
            user_ids = {name: user.id for name, user in users.items()}
        names = {uid: name for name, uid in user_ids.items()}
        clock, pending, running = 0.0, list(plan), None
        while pending or running is not None or _queued():
            while pending and pending[0][0] <= clock:
                at, name, priority = pending.pop(0)
                _upload(user_ids[name], priority, T0 + timedelta(seconds=at))
            if running is not None:
                _finish(running, T0 + timedelta(seconds=clock))
                running = None
            with session_scope() as session:
                job = claim_next_job(session, "trace", now=T0 + timedelta(seconds=clock))
                if job is not None:
                    running = job.id
                    uploaded = (job.created_at.replace(tzinfo=timezone.utc) - T0).total_seconds()
                    starts.append(Start(job.id, names[job.user_id], job.priority, uploaded, clock))
            clock = clock + BUILD_SECONDS if running is not None else (pending[0][0] if pending else clock)
    return starts


def _upload(user_id: int, priority: int, at: datetime) -> None:
    with session_scope() as session:
        site = Website(user_id=user_id, name="trace")
        session.add(site)
        session.flush()
        session.add(BuildJob(website_id=site.id, user_id=user_id, status=JobStatus.QUEUED, priority=priority, current_step="queued", created_at=at))


def _finish(job_id: int, at: datetime) -> None:
    with session_scope() as session:
        job = session.get(BuildJob, job_id)
        job.status, job.completed_at = JobStatus.COMPLETED, at


def _queued() -> bool:
    with session_scope() as session:
        return session.exec(select(BuildJob.id).where(BuildJob.status == JobStatus.QUEUED)).first() is not None


def table(starts: list[Start]) -> str:
    lines = ["| # | user | priority | uploaded (s) | started (s) | waited (s) |", "|---|---|---|---|---|---|"]
    for n, start in enumerate(starts, 1):
        lines.append(f"| {n} | {start.user} | {PRIORITY_NAMES.get(start.priority, start.priority)} | {start.uploaded:.0f} | {start.started:.0f} | {start.waited:.0f} |")
    return "\n".join(lines)
