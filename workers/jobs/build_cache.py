"""Identical uploads are not built twice.

Every upload is fingerprinted at intake (SHA-256 over the sorted relative paths and contents). Only the
same user's builds are matched: a hit or an "already building" would otherwise tell a user that someone
else uploaded the same files. Then:
- build cache: if a job with the same fingerprint completed in the last 24 h and its site is still
  published, the new job completes at once with a hard-linked copy of that site under its own slug
  (its own preview origin, independent of the other job's lifetime; no bytes copied);
- in-flight dedupe: if an identical job is queued or building, the new job becomes `pending` and
  follows it. When the leader ends, its followers end the same way (completed with a copy of its
  site, or failed with its error). If the leader is cancelled, its followers did not ask for that:
  they are detached and queued to build on their own. A follower can be cancelled like a queued job,
  which leaves its leader alone.
Followers are settled right after their leader finishes and, as a safety net, by the periodic
maintenance, so a crash between the two cannot leave a follower waiting forever.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, desc, select

from workers.build import publishing
from workers.config import settings
from workers.jobs import deployments
from workers.notify.bell import notify, retry_action_url
from workers.queue.wake import wake
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.models import ACTIVE_STATUSES, TERMINAL_STATUSES, BuildJob, JobStatus, Website, utcnow

MAX_AGE = timedelta(hours=24)
HIT, MISS, FOLLOW = "hit", "miss", "follow"


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    files: int
    bytes: int


def fingerprint(folder: Path) -> Fingerprint:
    """Hash of the upload: stable file order, each relative path and its content."""
    digest = hashlib.sha256()
    files = size = 0
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    for path in paths:
        relative = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(relative).to_bytes(4, "big") + relative + len(data).to_bytes(8, "big"))
        digest.update(data)
        files, size = files + 1, size + len(data)
    return Fingerprint(digest.hexdigest(), files, size)


def _site(slug: str | None) -> Path | None:
    path = settings().sites_dir / slug if slug else None
    return path if path is not None and (path / "index.html").is_file() else None


def _link_site(slug: str) -> str:
    """A new slug whose files are hard links to the published site `slug`."""
    sites = settings().sites_dir
    new_slug, _ = publishing.new_site(sites, lambda staging: shutil.copytree(sites / slug, staging, copy_function=os.link))
    return new_slug


def _minutes_ago(moment) -> str:
    minutes = max(0, round((utcnow() - moment).total_seconds() / 60))
    return "just now" if minutes == 0 else f"{minutes} min ago"


def reuse(session: Session, job: BuildJob, website: Website) -> str:
    """Decide, for a just-submitted job, whether an identical build answers it. Returns HIT (the job
    is completed), FOLLOW (it is pending on an identical build) or MISS (it stays queued)."""
    now = utcnow()
    # Only the same user's builds: matching another user's would tell them someone built these files
    # (and a follower of a failed build would get that user's log and error).
    same = select(BuildJob).where(
        BuildJob.user_id == job.user_id, BuildJob.source_hash == job.source_hash, BuildJob.id != job.id
    )
    recent = session.exec(
        same.where(BuildJob.status == JobStatus.COMPLETED, col(BuildJob.completed_at) >= now - MAX_AGE)
        .order_by(desc(BuildJob.completed_at))
        .limit(5)
    ).all()
    for done in recent:
        if _site(done.site_slug):
            when = _minutes_ago(done.completed_at)
            _complete_like(session, job, website, done, f"identical upload built {when}", f"Same files as a build from {when}: its output was reused.")
            return HIT
    leader = session.exec(
        same.where(col(BuildJob.status).in_(ACTIVE_STATUSES), col(BuildJob.follows_job_id).is_(None))
        .order_by(BuildJob.id)
        .limit(1)
    ).first()
    if leader is not None:
        job.status, job.follows_job_id = JobStatus.PENDING, leader.id
        job.current_step = "waiting for an identical build"
        job.build_cache, job.build_cache_reason = FOLLOW, "an identical upload is already queued or building"
        notify(session, job, "queued", f"{website.name} queued", "An identical upload is already building; this job finishes with it.", f"/jobs/{job.id}")
        return FOLLOW
    job.build_cache = MISS
    job.build_cache_reason = (
        "the identical build's site is no longer published" if recent else "no identical upload built in the last 24 h"
    )
    return MISS


def _complete_like(session: Session, job: BuildJob, website: Website, source: BuildJob, reason: str, message: str) -> None:
    now = utcnow()
    job.site_slug = _link_site(source.site_slug)
    job.preview_url = settings().preview_url(job.site_slug)
    job.status, job.progress, job.current_step = JobStatus.COMPLETED, 100, "completed (cache hit)"
    job.started_at = job.completed_at = now
    job.build_cache, job.build_cache_reason = HIT, reason
    job.steps = {
        name: {"status": info.get("status", "done"), "seconds": 0, "cache": HIT, "cacheReason": reason}
        for name, info in (source.steps or {}).items()
    }
    job.logs = f"[webbuilder] build cache hit: {reason}; reused its output, published at {job.preview_url}"
    deployments.completed(session, job, website, message)


def _settle(session: Session, follower: BuildJob, leader: BuildJob) -> None:
    website = session.get(Website, follower.website_id)
    follower.follows_job_id = None  # already cleared in the database by the caller's conditional update
    if leader.status == JobStatus.COMPLETED and _site(leader.site_slug):
        _complete_like(session, follower, website, leader, "built together with an identical upload", "Built together with an identical upload.")
    elif leader.status == JobStatus.FAILED:
        follower.status, follower.completed_at = JobStatus.FAILED, utcnow()
        follower.error, follower.error_details, follower.steps = leader.error, leader.error_details, leader.steps
        follower.current_step, follower.logs = leader.current_step, leader.logs
        follower.build_cache_reason = "failed together with an identical upload"
        first_line = (leader.error or "the identical build failed").splitlines()[0][:300]
        notify(session, follower, "failed", f"{website.name} failed to build", first_line, retry_action_url(follower.id))
    else:  # cancelled, or completed but its site is gone: build it on its own
        follower.status, follower.current_step = JobStatus.QUEUED, "queued"
        follower.build_cache, follower.build_cache_reason = MISS, "the identical build it waited for did not finish"


def settle_followers(session: Session) -> list[BuildJob]:
    """End or detach every follower whose leader has ended. Returns the followers changed."""
    leader_row = aliased(BuildJob)
    rows = session.exec(
        select(BuildJob, leader_row)
        .join(leader_row, col(leader_row.id) == BuildJob.follows_job_id)
        .where(BuildJob.status == JobStatus.PENDING, col(leader_row.status).in_(TERMINAL_STATUSES))
    ).all()
    settled = []
    table = BuildJob.__table__
    for follower, leader in rows:
        # Finishing builds and the periodic maintenance may settle at the same moment: only the one
        # whose conditional update takes the follower goes on (no second site copy or notification).
        taken = session.connection().execute(
            update(table)
            .where(table.c.id == follower.id, table.c.status == JobStatus.PENDING, table.c.follows_job_id == leader.id)
            .values(follows_job_id=None)
        )
        if taken.rowcount == 1:
            _settle(session, follower, leader)
            settled.append(follower)
    return settled


def release_followers() -> None:
    """Settle followers in their own transaction, then tell their users and wake workers for any
    follower that now has to build on its own."""
    with session_scope() as session:
        changed = [(f.user_id, f.id, f.status) for f in settle_followers(session)]
        events.after_commit(session, *(Notice(Change.JOB, user_id, job_id) for user_id, job_id, _ in changed))
    requeued = sum(1 for *_ids, status in changed if status == JobStatus.QUEUED)
    if requeued:
        wake(requeued)
