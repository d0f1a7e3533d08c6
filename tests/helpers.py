"""Helpers shared by tests that drive the engine directly."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from workers.accounts import users as accounts
from workers.build.archive import detect_project
from workers.jobs.lifecycle import submit
from workers.jobs.pipeline import run_job
from workers.jobs.reaper import reap_expired
from workers.queue.scheduler import MAX_ATTEMPTS, claim_next_job
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


def make_user(name: str = "alice", admin: bool = False) -> int:
    with session_scope() as session:
        return accounts.register(session, name, "password123", is_admin=admin).id


def queue_project(user_id: int, project: Path, name: str = "Site", priority: int = 0) -> int:
    """Submit a folder as an upload would, without waking any worker; returns the job id."""
    staged = project.parent / f"staged-{project.name}"
    shutil.copytree(project, staged)
    with session_scope() as session:
        return submit(session, user_id, name, detect_project(staged), staged, priority).job.id


def job(job_id: int) -> BuildJob:
    with session_scope() as session:
        return session.get(BuildJob, job_id)


def build_next() -> int:
    """Claim the next job and build it in this process, as a worker would; returns its id."""
    with session_scope() as session:
        claimed = claim_next_job(session, "test-worker")
        job_id = claimed.id
    run_job(job_id, "test-worker")
    return job_id


def fail_by_reaper(job_id: int) -> None:
    """The job's worker died a third time: the reaper fails it."""
    with session_scope() as session:
        session.exec(update(BuildJob).where(BuildJob.id == job_id).values(
            status=JobStatus.BUILDING, attempts=MAX_ATTEMPTS, worker_id="gone:1:1",
            started_at=utcnow(), lease_expires_at=utcnow() - timedelta(seconds=1)))
    with session_scope() as session:
        reap_expired(session)
