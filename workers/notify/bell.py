"""The bell: a user's notifications of their builds, and where a failed build's notice leads.

`notify` is where every way a job completes or fails ends, in the transaction that ends it, so the
user's webhooks and email are recorded with it (deliveries).
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, desc, select

from workers.config import RETRY_QUERY_PARAM
from workers.errors import UserError
from workers.notify import deliveries
from workers.store import events
from workers.store.events import Change, Notice
from workers.store.models import BuildJob, UserNotification, Website, iso, utcnow

FINAL_KINDS = ("completed", "failed", "cancelled")  # a job's final notice: one of these, once
MISSED_NOTICE_WINDOW = timedelta(hours=24)  # how far back the sweep looks for ended jobs without one


def notify(session: Session, job: BuildJob, kind: str, title: str, message: str = "", action_url: str | None = None) -> None:
    """The bell's notification of a change to `job`. Every way a job completes or fails ends here, in
    the transaction that ends it, so the user's webhooks and email are recorded with it (deliveries);
    a final notice sets `job.notification_sent`."""
    if kind in FINAL_KINDS:
        job.notification_sent = True
    session.add(
        UserNotification(user_id=job.user_id, job_id=job.id, type=kind, title=title, message=message, action_url=action_url)
    )
    deliveries.record(session, job, kind)
    events.after_commit(session, Notice(Change.NOTIFICATION, job.user_id, job.id))


def send_missed_final_notices(session: Session) -> list[BuildJob]:
    """The final notice of each job that ended in the last day without one (a path that ended it
    without `notify`): the maintenance sweep's safety net. Returns the jobs notified."""
    since = utcnow() - MISSED_NOTICE_WINDOW
    ended = session.exec(
        select(BuildJob).where(col(BuildJob.status).in_(FINAL_KINDS), BuildJob.notification_sent == False,  # noqa: E712
                               col(BuildJob.completed_at) >= since)
    ).all()
    for job in ended:
        website = session.get(Website, job.website_id)
        title = {"completed": f"{website.name} built", "failed": f"{website.name} failed to build",
                 "cancelled": f"{website.name} cancelled"}[job.status]
        action = job.preview_url if job.status == "completed" else retry_action_url(job.id)
        notify(session, job, job.status, title, (job.error or "").splitlines()[0][:300] if job.error else "", action)
    return list(ended)


def retry_action_url(job_id: int) -> str:
    """Where a failed build's notification leads: its job page, which opens with a "Retry this
    build?" question. It asks instead of retrying, so reloading that page makes no duplicate."""
    return f"/jobs/{job_id}?{RETRY_QUERY_PARAM}=1"


def notification_view(note: UserNotification) -> dict:
    return {
        "id": note.id,
        "jobId": note.job_id,
        "type": note.type,
        "title": note.title,
        "message": note.message,
        "actionUrl": note.action_url,
        "read": note.read,
        "createdAt": iso(note.created_at),
    }


def notifications(session: Session, user_id: int, limit: int = 50) -> dict:
    rows = session.exec(
        select(UserNotification)
        .where(UserNotification.user_id == user_id)
        .order_by(desc(UserNotification.created_at), desc(UserNotification.id))
        .limit(limit)
    ).all()
    unread = session.exec(
        select(UserNotification.id).where(UserNotification.user_id == user_id, UserNotification.read == False)  # noqa: E712
    ).all()
    return {"notifications": [notification_view(n) for n in rows], "unreadCount": len(unread)}


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark one notification (or all, with None) read; returns how many changed."""
    query = select(UserNotification).where(UserNotification.user_id == user_id, UserNotification.read == False)  # noqa: E712
    if notification_id is not None:
        query = query.where(UserNotification.id == notification_id)
    rows = session.exec(query).all()
    for note in rows:
        note.read = True
    if notification_id is not None and not rows:
        exists = session.exec(
            select(UserNotification.id).where(UserNotification.id == notification_id, UserNotification.user_id == user_id)
        ).first()
        if exists is None:
            raise UserError("Notification not found.", 404)
    return len(rows)
