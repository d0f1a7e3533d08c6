"""The bell: a user's notifications of their builds, and where a failed build's notice leads.

`notify` is where every way a job completes or fails ends, in the transaction that ends it, so the
user's webhooks and email are recorded with it (deliveries).
"""

from __future__ import annotations

from sqlmodel import Session, desc, select

from workers.config import RETRY_QUERY_PARAM
from workers.errors import UserError
from workers.notify import deliveries
from workers.store.models import BuildJob, UserNotification, iso


def notify(session: Session, job: BuildJob, kind: str, title: str, message: str = "", action_url: str | None = None) -> None:
    """The bell's notification of a change to `job`. Every way a job completes or fails ends here, in
    the transaction that ends it, so the user's webhooks and email are recorded with it (deliveries)."""
    session.add(
        UserNotification(user_id=job.user_id, job_id=job.id, type=kind, title=title, message=message, action_url=action_url)
    )
    deliveries.record(session, job, kind)


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
