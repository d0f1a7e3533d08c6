"""Jobs as their users read them: the job view (its fields documented once, in `JobView`, which the
API's schema uses too), a website's build status, one job with its log, the user's queue.

Every function takes the acting user's id and scopes its queries by it: another user's job is 404.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, desc, select

from workers.config import settings
from workers.errors import UserError
from workers.jobs.ownership import owned_job, owned_website
from workers.queue.eta import QueueEstimator
from workers.store.files import log_path
from workers.store.models import ACTIVE_STATUSES, BuildJob, Website, iso

LOG_LINES_IN_STATUS = 50


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
    message: str | None = Field(default=None, description="the deployment's message from its upload")
    websiteUrl: str | None = Field(default=None, description="the website's stable address (serves its live deployment)")
    live: bool = Field(default=False, description="this deployment is the one the stable address serves")
    retired: bool = Field(default=False, description="its files were deleted (retention): its address answers 410")


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
        "message": job.message,
        "websiteUrl": settings().preview_url(website.slug) if website.slug else None,
        "live": website.live_job_id == job.id,
        "retired": job.retired_at is not None,
    }
    return JobView.model_construct(**fields).model_dump()


def build_status(session: Session, user_id: int, website_id: int) -> dict:
    website = owned_website(session, user_id, website_id)
    if website.build_job_id is None:
        raise UserError("This website has no build.", 404)
    job = owned_job(session, user_id, website.build_job_id)
    view = job_view(job, website, QueueEstimator(session))
    view["logs"] = job.logs.splitlines()[-LOG_LINES_IN_STATUS:]
    view["liveJobId"] = website.live_job_id
    return view


def job_detail(session: Session, user_id: int, job_id: int) -> dict:
    job = owned_job(session, user_id, job_id)
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
    job = owned_job(session, user_id, job_id)
    path = log_path(job.id)
    return path.read_text(errors="replace") if path.exists() else job.logs
