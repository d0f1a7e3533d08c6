"""What the operators' page shows: every user's queue, running builds, live workers, host load,
queue depth and build durations over time, dependency-cache and build-cache hit rates.

Plain queries over the database and Redis, with no user scoping: only the admin-checked ops page
calls these. Worker liveness is workers.queue.heartbeats'.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime, timedelta

import psutil
from sqlmodel import Session, col, or_, select

from workers.config import settings
from workers.jobs.build_cache import FOLLOW, HIT
from workers.jobs.views import job_view
from workers.queue import psutil_admission
from workers.queue.eta import QueueEstimator
from workers.store.models import ACTIVE_STATUSES, IN_FLIGHT_STATUSES, BuildJob, JobStatus, User, Website, as_utc, utcnow

WINDOWS = {"hour": (timedelta(hours=1), timedelta(minutes=5)), "day": (timedelta(days=1), timedelta(hours=1))}

# --- host --------------------------------------------------------------------------------------

def host_load() -> dict:
    """CPU over the last second and memory as admission sees them, load average, data disk."""
    memory = psutil.virtual_memory()
    data_dir = settings().data_dir
    disk = psutil.disk_usage(str(data_dir if data_dir.exists() else data_dir.anchor))
    return {
        "cpuPercent": round(psutil_admission.measure().cpu_percent, 1),
        "cpuCount": psutil.cpu_count() or 1,
        "memoryPercent": round(memory.percent, 1),
        "memoryUsedGb": round((memory.total - memory.available) / 2**30, 1),
        "memoryTotalGb": round(memory.total / 2**30, 1),
        "loadAverage": round(os.getloadavg()[0], 2),
        "diskPercent": round(disk.percent, 1),
    }


# --- queues ------------------------------------------------------------------------------------

def active_jobs(session: Session) -> list[dict]:
    """Every user's waiting and running jobs, running first, then in dispatch order."""
    estimator = QueueEstimator(session)
    rows = session.exec(
        select(BuildJob, Website, User)
        .join(Website, col(Website.id) == BuildJob.website_id)
        .join(User, col(User.id) == BuildJob.user_id)
        .where(col(BuildJob.status).in_(ACTIVE_STATUSES))
    ).all()
    views = []
    for job, website, user in rows:
        view = job_view(job, website, estimator)
        view.update(username=user.username, workerId=job.worker_id or "")
        views.append(view)
    return sorted(views, key=lambda v: (v["status"] not in IN_FLIGHT_STATUSES, v["queuePosition"] or 0, v["id"]))


def per_user(jobs: list[dict]) -> list[dict]:
    """One row per user with active jobs: how many wait and how many build."""
    users: dict[str, dict] = {}
    for view in jobs:
        row = users.setdefault(view["username"], {"username": view["username"], "queued": 0, "building": 0})
        row["building" if view["status"] in IN_FLIGHT_STATUSES else "queued"] += 1
    return sorted(users.values(), key=lambda r: (-r["building"] - r["queued"], r["username"]))


# --- history -----------------------------------------------------------------------------------

def _jobs_touching(session: Session, since: datetime) -> list[BuildJob]:
    return list(session.exec(
        select(BuildJob).where(or_(col(BuildJob.completed_at).is_(None), col(BuildJob.completed_at) >= since))
    ).all())


def _percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


def history(session: Session, window: str = "hour", now: datetime | None = None) -> dict:
    """Queue depth at the end of each bucket, median build duration and builds finished per bucket,
    over the last hour (5-minute buckets) or day (hourly), and two hit rates over the same window:
    the dependency cache's (installs restored instead of run) and the build cache's (finished jobs
    answered by an identical upload's build instead of building: a cache hit, or following a build
    in flight). Cancelled jobs were answered by nobody, so they count in neither."""
    span, step = WINDOWS[window]
    now = now or utcnow()
    since = now - span
    rows = _jobs_touching(session, since)
    buckets = []
    edge = since + step
    while edge <= now + timedelta(seconds=1):
        start = edge - step
        waiting = 0
        durations = []
        finished = failed = 0
        for job in rows:
            created, started, done = as_utc(job.created_at), as_utc(job.started_at), as_utc(job.completed_at)
            left_queue = started or done
            if created <= edge and (left_queue is None or left_queue > edge):
                waiting += 1
            if done and start < done <= edge:
                if job.status == JobStatus.COMPLETED:
                    finished += 1
                    if started:
                        durations.append((done - started).total_seconds())
                elif job.status == JobStatus.FAILED:
                    failed += 1
        label = edge.strftime("%H:%M")
        buckets.append({"time": label, "queued": waiting, "completed": finished, "failed": failed,
                        "buildSeconds": round(statistics.median(durations), 1) if durations else 0})
        edge += step
    ended = [job for job in rows if job.completed_at and as_utc(job.completed_at) >= since]
    answered = [job for job in ended if job.status in (JobStatus.COMPLETED, JobStatus.FAILED)]
    reused = sum(1 for job in answered if job.build_cache in (HIT, FOLLOW))
    # A job the build cache answered carries its source's step records (marked "hit"), not an
    # install of its own: only jobs that ran their pipeline looked in the dependency cache.
    outcomes = [((job.steps or {}).get("install") or {}).get("cache") for job in ended if job.build_cache not in (HIT, FOLLOW)]
    lookups = [o for o in outcomes if o in ("hit", "miss")]
    hits = sum(1 for o in lookups if o == "hit")
    return {
        "buckets": buckets,
        "cacheHits": hits,
        "cacheLookups": len(lookups),
        "cacheHitPercent": _percent(hits, len(lookups)),
        "buildCacheHits": reused,
        "buildsFinished": len(answered),
        "buildCacheHitPercent": _percent(reused, len(answered)),
    }
