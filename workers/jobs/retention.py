"""Which deployments keep their files. Per website: the live one and the newest
`WEBBUILDER_KEEP_DEPLOYMENTS` completed ones; failed and cancelled ones for a week. A retired
deployment keeps its row (the history) but loses its upload, build folder and site; its address
answers 410 and promoting or retrying it 409.

Rows are marked in the caller's transaction; the files go right after it commits, and the maintenance
sweep removes any a crash left behind.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlmodel import Session, col, desc, select

from workers.config import settings
from workers.store.db import session_scope
from workers.store.files import job_dir
from workers.store.models import RETRYABLE_STATUSES, BuildJob, JobStatus, Website, utcnow

FAILED_KEPT_FOR = timedelta(days=7)
_TO_REMOVE = "webbuilder_retired_files"  # Session.info key: (job folder, site folder) pairs
log = logging.getLogger(__name__)


def retire_beyond_kept(session: Session, website: Website) -> list[BuildJob]:
    """Retire the website's completed deployments past the newest kept ones (never the live one)."""
    kept = settings().keep_deployments
    completed = session.exec(
        select(BuildJob)
        .where(BuildJob.website_id == website.id, BuildJob.status == JobStatus.COMPLETED, col(BuildJob.retired_at).is_(None))
        .order_by(desc(BuildJob.id))
    ).all()
    old = [job for job in completed[kept:] if job.id != website.live_job_id]
    retire(session, old)
    return old


def retire(session: Session, jobs: list[BuildJob]) -> None:
    now = utcnow()
    for job in jobs:
        job.retired_at = now
    _remove_after_commit(session, [job.site_slug for job in jobs], [job.id for job in jobs])


def sweep(session: Session) -> list[BuildJob]:
    """The periodic part: failed and cancelled deployments past a week. (Completed ones are retired
    when another of their website's completes or goes live.)"""
    since = utcnow() - FAILED_KEPT_FOR
    ended = list(session.exec(
        select(BuildJob).where(col(BuildJob.status).in_(RETRYABLE_STATUSES), col(BuildJob.retired_at).is_(None), col(BuildJob.completed_at) < since)
    ).all())
    retire(session, ended)
    return ended


def _remove_after_commit(session: Session, site_slugs: list[str | None], job_ids: list[int]) -> None:
    if not job_ids:
        return
    pending = session.info.get(_TO_REMOVE)
    if pending is None:
        pending = session.info[_TO_REMOVE] = []
        sa_event.listen(session, "after_commit", _remove_committed)
        sa_event.listen(session, "after_rollback", lambda s: s.info.__setitem__(_TO_REMOVE, []))
    pending.extend(zip(job_ids, site_slugs))


def _remove_committed(session: Session) -> None:
    pending, session.info[_TO_REMOVE] = session.info[_TO_REMOVE], []
    for job_id, site_slug in pending:
        remove_files(job_id, site_slug)


def remove_files(job_id: int, site_slug: str | None) -> None:
    shutil.rmtree(job_dir(job_id), ignore_errors=True)
    if site_slug:
        shutil.rmtree(settings().sites_dir / site_slug, ignore_errors=True)


def remove_leftovers() -> int:
    """Files of retired deployments still on disk (a crash between the commit and the removal)."""
    with session_scope() as session:
        rows = session.exec(select(BuildJob.id, BuildJob.site_slug).where(col(BuildJob.retired_at).is_not(None))).all()
    left = [(job_id, slug) for job_id, slug in rows if job_dir(job_id).exists() or (slug and (settings().sites_dir / slug).exists())]
    for job_id, slug in left:
        remove_files(job_id, slug)
    return len(left)
