"""A job's lifecycle as its user drives it: submit, cancel, retry (the views are in `views`).

Every function takes the acting user's id and scopes its queries by it, so the API and the Reflex
state cannot show or touch another user's jobs. Dicts returned here are the API's camelCase bodies.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from workers.errors import UserError
from workers.jobs import build_cache, quotas, slugs
from workers.jobs.build_cache import Fingerprint
from workers.jobs.ownership import check_name, owned_job, owned_website
from workers.notify.bell import notify
from workers.queue.scheduler import queued_in_order, queued_user_ids
from workers.queue.wake import wake
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.files import source_dir
from workers.store.models import IN_FLIGHT_STATUSES, RETRYABLE_STATUSES, BuildJob, JobStatus, Website, utcnow

USER_MAX_PRIORITY = 10
MAX_PRIORITY = 1000  # admins may go past USER_MAX_PRIORITY, not without bound


# --- submission ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submitted:
    website: Website
    job: BuildJob
    queue_position: int | None = None  # set after the commit, outside the database write lock

    @property
    def message(self) -> str:
        """What the uploader is told at once."""
        if self.job.status == JobStatus.COMPLETED:
            return "Website ready! Identical to a recent build, so its output was reused."
        if self.job.status == JobStatus.PENDING:
            return "Website queued! An identical upload is already building; this one finishes with it."
        return f"Website queued! Position {self.queue_position}" if self.queue_position else "Website queued!"


def allowed_priority(requested: object, is_admin: bool) -> int:
    """The upload priority a user gets for what the client asked (a number or its text; empty is
    0): admins any up to ±MAX_PRIORITY, everyone else held to ±USER_MAX_PRIORITY. The API and the
    upload form both decide here, so no client gets more than its user may have."""
    text = str(requested if requested is not None else "").strip() or "0"
    try:
        priority = int(text)
    except ValueError:
        raise UserError(f"priority must be a whole number, got {text[:40]!r}", 422) from None
    if abs(priority) > MAX_PRIORITY:
        raise UserError(f"priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}", 422)
    return priority if is_admin else max(-USER_MAX_PRIORITY, min(USER_MAX_PRIORITY, priority))


def submit(session: Session, user_id: int, name: str, project_type: str, staged_source: Path, priority: int = 0,
           deployment: Deployment | None = None) -> Submitted:
    """Queue a build of an already validated, extracted upload: a new website called `name`, or a new
    deployment of the user's website `deployment.website_id`. The staged folder is moved into the
    job's folder. The caller commits, then calls `after_submit`."""
    deployment = deployment or Deployment()
    website = _target_website(session, user_id, name, deployment)
    files = _fingerprint(staged_source)  # reads every file: before the first write takes the lock
    website.type = project_type
    if website.id is None:
        session.add(website)
        session.flush()
        if deployment.slug:
            slugs.assign(session, website, deployment.slug)
        else:
            slugs.assign_new(session, website)
    return Submitted(website, _enqueue(session, website, priority, staged_source, files, move=True, message=deployment.message))


@dataclass(frozen=True)
class Deployment:
    """What an upload says about where it goes: a website of the user's (else a new one, at `slug` if
    given) and the deployment's message."""

    website_id: int | None = None
    message: str | None = None
    slug: str | None = None


def _target_website(session: Session, user_id: int, name: str, deployment: Deployment) -> Website:
    if deployment.website_id is None:
        return Website(user_id=user_id, name=check_name(name))
    return owned_website(session, user_id, deployment.website_id)


def queue_position(session: Session, job: BuildJob) -> int | None:
    """1-based place in the dispatch order (no ETA model: the upload answer only needs this)."""
    if job.status != JobStatus.QUEUED:
        return None
    return next((index for index, queued in enumerate(queued_in_order(session), start=1) if queued.id == job.id), None)


def _fingerprint(source: Path) -> Fingerprint:
    return build_cache.fingerprint(source)


def _enqueue(session: Session, website: Website, priority: int, source: Path, files: Fingerprint, *, move: bool,
             retry_of: int | None = None, message: str | None = None, clean: bool = False) -> BuildJob:
    """Queue a build of `source` (whose fingerprint is `files`), unless an identical upload answers it
    (see build_cache). A `clean` build reuses nothing: no identical build, no earlier build's caches."""

    job = BuildJob(
        website_id=website.id,
        user_id=website.user_id,
        status=JobStatus.QUEUED,
        priority=priority,
        retry_of=retry_of,
        message=message,
        clean_build=clean,
        current_step="queued",
        source_hash=files.digest,
        source_files=files.files,
        source_bytes=files.bytes,
    )
    session.add(job)
    session.flush()
    target = source_dir(job.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        shutil.move(str(source), target)
    else:
        shutil.copytree(source, target, copy_function=_link_or_copy, symlinks=True)
    website.build_job_id = job.id
    website.updated_at = utcnow()
    if clean:
        job.build_cache, job.build_cache_reason = build_cache.MISS, "redeploy without cache"
    if clean or build_cache.reuse(session, job, website) == build_cache.MISS:
        notify(session, job, "queued", f"{website.name} queued", "Waiting for a build slot.", f"/jobs/{job.id}")
    return job


def _link_or_copy(src: str, dst: str) -> None:
    """Sources are never modified after upload, so a retry can share them by hard link."""
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def after_submit(job: BuildJob) -> None:
    """After the commit: tell pages and wake a worker. Both are best effort; the row is the truth."""
    notices = [Notice(Change.JOB, job.user_id, job.id), Notice(Change.NOTIFICATION, job.user_id, job.id)]
    queued = job.status == JobStatus.QUEUED  # not answered by the build cache, nor following a twin
    if queued:
        with session_scope() as session:
            others = queued_user_ids(session) - {job.user_id}
        notices += [Notice(Change.QUEUE, user_id) for user_id in others]  # it can take a place ahead of theirs
    events.publish(*notices)
    if queued:
        wake()


# --- cancel and retry ----------------------------------------------------------------------------

def cancel(session: Session, user_id: int, job_id: int) -> BuildJob:
    """A queued job is cancelled at once; a building one is flagged and its worker kills the build."""
    job = owned_job(session, user_id, job_id)
    if job.status in (JobStatus.PENDING, JobStatus.QUEUED):
        job.status = JobStatus.CANCELLED
        job.completed_at = utcnow()
        job.current_step = "cancelled"
        notify(session, job, "cancelled", "Build cancelled", "Cancelled before it started.", f"/jobs/{job.id}")
    elif job.status in IN_FLIGHT_STATUSES:
        job.cancel_requested = True
    else:
        raise UserError(f"The job is already {job.status}.", 409)
    return job


def retry(session: Session, user_id: int, job_id: int) -> BuildJob:
    """A new job for the same website and files, linked to the old one."""
    old = owned_job(session, user_id, job_id)
    if old.status not in RETRYABLE_STATUSES:
        raise UserError(f"Only failed or cancelled jobs can be retried; this one is {old.status}.", 409)
    return _rebuild(session, user_id, old, retry_of=old.id, message=old.message, clean=old.clean_build)


def redeploy(session: Session, user_id: int, website_id: int, job_id: int | None = None) -> BuildJob:
    """Build a deployment's files again from clean (default: the live one's), as a new deployment."""
    website = owned_website(session, user_id, website_id)
    job_id = job_id or website.live_job_id or website.build_job_id
    old = owned_job(session, user_id, job_id) if job_id else None
    if old is None or old.website_id != website.id:
        raise UserError("Deployment not found.", 404)
    return _rebuild(session, user_id, old, message=f"redeploy of #{old.id} without cache", clean=True)


def _rebuild(session: Session, user_id: int, old: BuildJob, *, retry_of: int | None = None, message: str | None, clean: bool) -> BuildJob:
    if old.retired_at is not None or not source_dir(old.id).exists():
        raise UserError(f"The files of deployment {old.id} are no longer kept (only the newest deployments keep theirs); upload them again.", 409)
    quotas.check_active_builds(session, user_id)
    website = owned_website(session, user_id, old.website_id)
    files = _fingerprint(source_dir(old.id))
    return _enqueue(session, website, old.priority, source_dir(old.id), files, move=False, retry_of=retry_of, message=message, clean=clean)
