"""The bell: the user's notifications, marking them read, following one."""

from __future__ import annotations

from workers.notify import bell
from workers.store import events
from workers.store.db import session_scope
from workers.store.events import Change, Notice
from workers.store.models import User


def recent(user: User, limit: int = 50) -> dict:
    """The user's newest notifications and how many are unread."""
    with session_scope() as session:
        return bell.notifications(session, user.id, limit=limit)


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications (None: all) read; returns how many changed."""
    with session_scope() as session:
        changed = bell.mark_read(session, user.id, notification_id)
        events.after_commit(session, Notice(Change.NOTIFICATIONS_READ, user.id))
    return changed


def open_notification(user: User, notification_id: int) -> str | None:
    """Mark one read and return where it leads (the site, the job page), if anywhere."""
    with session_scope() as session:
        bell.mark_read(session, user.id, notification_id)
        target = next(
            (n["actionUrl"] for n in bell.notifications(session, user.id)["notifications"] if n["id"] == notification_id),
            None,
        )
        events.after_commit(session, Notice(Change.NOTIFICATIONS_READ, user.id))
    return target
