"""Jobs as users see them: submit, read, cancel, retry.

Every function takes the acting user's id and scopes its queries by it, so the API and the Reflex
state cannot show or touch another user's jobs. Dicts returned here are the API's camelCase bodies.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, desc, select

from workers.errors import UserError
from workers.jobs import build_cache, quotas
from workers.jobs.build_cache import Fingerprint
from workers.notify.bell import notify
from workers.queue.eta import QueueEstimator
from workers.queue.scheduler import queued_in_order, queued_user_ids
from workers.queue.wake import wake
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.files import log_path, source_dir
from workers.store.models import ACTIVE_STATUSES, IN_FLIGHT_STATUSES, RETRYABLE_STATUSES, BuildJob, JobStatus, Website, iso, utcnow
from workers.text import has_control_characters

LOG_LINES_IN_STATUS = 50
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


def submit(session: Session, user_id: int, name: str, project_type: str, staged_source: Path, priority: int = 0) -> Submitted:
    """Create the website and its queued job from an already validated, extracted upload.
    The staged folder is moved into the job's folder. The caller commits, then calls `after_submit`."""
    name = (name or "").strip()
    if not name:
        raise UserError("Give the website a name.", 422)
    if len(name) > 200:
        raise UserError("The name is longer than 200 characters.", 422)
    if has_control_characters(name):
        raise UserError("The name may not contain control characters.", 422)
    files = _fingerprint(staged_source)  # reads every file: before the first write takes the lock
    website = Website(user_id=user_id, name=name, type=project_type)
    session.add(website)
    session.flush()
    return Submitted(website, _enqueue(session, website, priority, staged_source, files, move=True))


def queue_position(session: Session, job: BuildJob) -> int | None:
    """1-based place in the dispatch order (no ETA model: the upload answer only needs this)."""
    if job.status != JobStatus.QUEUED:
        return None
    return next((index for index, queued in enumerate(queued_in_order(session), start=1) if queued.id == job.id), None)


def _fingerprint(source: Path) -> Fingerprint:
    return build_cache.fingerprint(source)


def _enqueue(session: Session, website: Website, priority: int, source: Path, files: Fingerprint, *, move: bool, retry_of: int | None = None) -> BuildJob:
    """Queue a build of `source` (whose fingerprint is `files`), unless an identical upload answers it
    (see build_cache)."""

    job = BuildJob(
        website_id=website.id,
        user_id=website.user_id,
        status=JobStatus.QUEUED,
        priority=priority,
        retry_of=retry_of,
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
    if build_cache.reuse(session, job, website) == build_cache.MISS:
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


# --- reading -------------------------------------------------------------------------------------

def _owned_job(session: Session, user_id: int, job_id: int) -> BuildJob:
    job = session.get(BuildJob, job_id)
    if job is None or job.user_id != user_id:
        raise UserError("Job not found.", 404)
    return job


def owned_website(session: Session, user_id: int, website_id: int) -> Website:
    website = session.get(Website, website_id)
    if website is None or website.user_id != user_id:
        raise UserError("Website not found.", 404)
    return website


class JobView(BaseModel):
    """A job as the API, the pages and the webhooks show it (the OpenAPI document's JobView)."""

    model_config = ConfigDict(extra="allow")

    id: int
    jobId: int
    websiteId: int
    websiteName: str
    websiteType: str = Field(description="what was uploaded: vite | static | …")
    status: str = Field(description="pending | queued | building | running | completed | failed | cancelled")
    priority: int
    progress: int = Field(description="0–100")
    currentStep: str
    queuePosition: int | None = Field(description="1 = next to start; null unless queued")
    estimatedTimeRemaining: int | None = Field(description="seconds until done (queued: wait + build); null when finished")
    estimatedStartIn: int | None = Field(default=None, description="seconds until a queued job starts; null unless queued")
    estimatedCompletionAt: str | None = Field(
        default=None, description="ISO time estimatedTimeRemaining points at: count down to it between reads"
    )
    estimatedStartAt: str | None = Field(default=None, description="ISO time estimatedStartIn points at; null unless queued")
    buildCache: str | None = Field(default=None, description="hit (identical recent build reused) | miss | follow (attached to an identical build in progress)")
    buildCacheReason: str | None = Field(default=None, description="why the build cache hit or missed")
    followsJobId: int | None = Field(default=None, description="the identical build a pending job follows")
    createdAt: str | None
    startedAt: str | None
    completedAt: str | None
    previewUrl: str | None
    error: str | None
    errorDetails: list[dict] = Field(default_factory=list, description="structured errors (file, line, column, code, message)")
    steps: dict = Field(default_factory=dict, description="each step's status, seconds and cache outcome")
    retryOf: int | None = Field(default=None, description="the job this one retries")
    attempts: int = Field(default=0, description="how many times a worker started it")


def job_view(job: BuildJob, website: Website, estimator: QueueEstimator) -> dict:
    remaining, to_start = estimator.seconds_remaining(job), estimator.seconds_to_start(job)
    fields = {
        "id": job.id,
        "jobId": job.id,
        "websiteId": website.id,
        "websiteName": website.name,
        "websiteType": website.type,
        "status": job.status,
        "priority": job.priority,
        "progress": job.progress,
        "currentStep": job.current_step,
        "queuePosition": estimator.position(job),
        "estimatedTimeRemaining": remaining,
        "estimatedStartIn": to_start,
        "estimatedCompletionAt": iso(estimator.moment_after(remaining)),
        "estimatedStartAt": iso(estimator.moment_after(to_start)),
        "buildCache": job.build_cache,
        "buildCacheReason": job.build_cache_reason,
        "followsJobId": job.follows_job_id,
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "completedAt": iso(job.completed_at),
        "previewUrl": job.preview_url,
        "error": job.error,
        "errorDetails": job.error_details or [],
        "steps": job.steps or {},
        "retryOf": job.retry_of,
        "attempts": job.attempts,
    }
    return JobView.model_construct(**fields).model_dump()


def build_status(session: Session, user_id: int, website_id: int) -> dict:
    website = owned_website(session, user_id, website_id)
    if website.build_job_id is None:
        raise UserError("This website has no build.", 404)
    job = _owned_job(session, user_id, website.build_job_id)
    view = job_view(job, website, QueueEstimator(session))
    view["logs"] = job.logs.splitlines()[-LOG_LINES_IN_STATUS:]
    return view


def job_detail(session: Session, user_id: int, job_id: int) -> dict:
    job = _owned_job(session, user_id, job_id)
    website = session.get(Website, job.website_id)
    view = job_view(job, website, QueueEstimator(session))
    view["logs"] = job.logs.splitlines()
    return view


def user_queue(session: Session, user_id: int, recent: int = 10) -> dict:
    estimator = QueueEstimator(session)
    rows = session.exec(
        select(BuildJob, Website)
        .join(Website, col(Website.id) == BuildJob.website_id)
        .where(BuildJob.user_id == user_id, col(BuildJob.status).in_(ACTIVE_STATUSES))
        .order_by(BuildJob.created_at, BuildJob.id)
    ).all()
    done = session.exec(
        select(BuildJob, Website)
        .join(Website, col(Website.id) == BuildJob.website_id)
        .where(BuildJob.user_id == user_id, col(BuildJob.status).not_in(ACTIVE_STATUSES))
        .order_by(desc(BuildJob.completed_at), desc(BuildJob.id))
        .limit(recent)
    ).all()
    active = [job_view(job, site, estimator) for job, site in rows]
    return {
        "activeJobs": active,
        "completedJobs": [job_view(job, site, estimator) for job, site in done],
        "totalActive": len(active),
    }


def full_log(session: Session, user_id: int, job_id: int) -> str:
    job = _owned_job(session, user_id, job_id)
    path = log_path(job.id)
    return path.read_text(errors="replace") if path.exists() else job.logs


# --- cancel and retry ----------------------------------------------------------------------------

def cancel(session: Session, user_id: int, job_id: int) -> BuildJob:
    """A queued job is cancelled at once; a building one is flagged and its worker kills the build."""
    job = _owned_job(session, user_id, job_id)
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
    old = _owned_job(session, user_id, job_id)
    if old.status not in RETRYABLE_STATUSES:
        raise UserError(f"Only failed or cancelled jobs can be retried; this one is {old.status}.", 409)
    if not source_dir(old.id).exists():
        raise UserError("The files of this job are no longer stored; upload them again.", 410)
    quotas.check_active_builds(session, user_id)
    website = session.get(Website, old.website_id)
    files = _fingerprint(source_dir(old.id))
    return _enqueue(session, website, old.priority, source_dir(old.id), files, move=False, retry_of=old.id)
