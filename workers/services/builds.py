"""Uploads, the queue, one job's view and log, cancel and retry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from workers.errors import UserError
from workers.jobs import intake, views
from workers.jobs import lifecycle as jobs
from workers.jobs.ownership import clean_message
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.models import BuildJob, User

JobView = views.JobView  # the job view's fields, documented (the API's schema)
MAX_PRIORITY = jobs.MAX_PRIORITY  # the highest priority anyone may ask for (users: ±10)


def upload_request_limit() -> int:
    """The most bytes an upload request may carry (the size limit plus the multipart framing)."""
    return intake.request_limit()


def upload(user: User, name: str, files: Iterable[tuple[str, BinaryIO]], priority: object = 0,
           website_id: object = None, message: object = None, slug: object = None) -> jobs.Submitted:
    """Queue a build of the uploaded project (a .zip or a folder's files) as `user`: a new website
    (at `slug`, if given), or a new deployment of their website `website_id`. The priority is held to
    what the user may ask for."""
    deployment = jobs.Deployment(_website_id(website_id), clean_message(message), str(slug).strip() or None if slug else None)
    return intake.accept(user.id, name, files, jobs.allowed_priority(priority, user.is_admin), deployment)


def _website_id(value: object) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise UserError(f"websiteId must be a website's id, got {text[:40]!r}", 422)
    return int(text)


def queue(user: User) -> dict:
    """The user's active jobs in queue order and their last finished ones."""
    with session_scope() as session:
        return views.user_queue(session, user.id)


def job_detail(user: User, job_id: int) -> dict:
    """One of the user's jobs with its whole log as lines; UserError 404 for anyone else's."""
    with session_scope() as session:
        return views.job_detail(session, user.id, job_id)


def build_status(user: User, website_id: int) -> dict:
    with session_scope() as session:
        return views.build_status(session, user.id, website_id)


def full_log(user: User, job_id: int) -> str:
    with session_scope() as session:
        return views.full_log(session, user.id, job_id)


def cancel(user: User, job_id: int) -> BuildJob:
    """Cancel a queued job at once, or ask a building one's worker to stop it."""
    with session_scope() as session:
        job = jobs.cancel(session, user.id, job_id)
        events.after_commit(session, Notice(Change.JOB, user.id, job_id))
    return job


def retry(user: User, job_id: int) -> BuildJob:
    """A new job with the same files as a failed or cancelled one of the user's."""
    with session_scope() as session:
        new_job = jobs.retry(session, user.id, job_id)
    jobs.after_submit(new_job)
    return new_job


def redeploy(user: User, website_id: int, job_id: int | None = None) -> BuildJob:
    """Build a deployment of the user's website (default: the live one) again, reusing nothing."""
    with session_scope() as session:
        new_job = jobs.redeploy(session, user.id, website_id, job_id)
    jobs.after_submit(new_job)
    return new_job
