"""Marking notifications read, following their action, and announcing new ones in each tab."""

import json

import reflex as rx

from workers import events, jobs
from workers.db import session_scope

from .auth import AuthState

TOASTED_TYPES = ("completed", "failed", "cancelled")


def _desktop_notification(title: str, body: str) -> rx.event.EventSpec:
    """Shown by the browser only when the tab is in the background and the user allowed it."""
    return rx.call_script(
        "if (document.hidden && window.Notification && Notification.permission === 'granted') "
        f"new Notification({json.dumps(title)}, {{body: {json.dumps(body)}}})"
    )


class NotificationState(rx.State):
    """Per tab: which notifications this tab has already announced."""

    _seen_id: int = 0

    async def _user_id(self) -> int | None:
        return (await self.get_state(AuthState)).current_user_id()

    def mark_seen(self, notifications: list[dict]) -> None:
        self._seen_id = max([self._seen_id, *(n["id"] for n in notifications)])

    @rx.event
    async def announce(self):
        """Sent by the backend's relay when this user got notifications: toast the new ones."""
        user_id = await self._user_id()
        if user_id is None:
            return
        with session_scope() as session:
            recent = jobs.notifications(session, user_id, limit=10)["notifications"]
        fresh = [n for n in recent if n["id"] > self._seen_id]
        self.mark_seen(fresh)
        announcements = []
        for note in reversed(fresh):
            if note["type"] not in TOASTED_TYPES:
                continue
            if note["type"] == "completed":
                view = {"label": "View", "on_click": NotificationState.open(note["id"])}
                announcements.append(rx.toast.success(note["title"], description=note["message"], action=view, duration=8000))
            elif note["type"] == "failed":
                announcements.append(rx.toast.error(note["title"], description=note["message"], duration=10000))
            else:
                announcements.append(rx.toast.info(note["title"], description=note["message"]))
            announcements.append(_desktop_notification(note["title"], note["message"]))
        return announcements

    @rx.event
    async def open(self, notification_id: int):
        """Mark one notification read and follow its action: the site, the job page, or for a failed
        build the job page asking "Retry this build?"."""
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        with session_scope() as session:
            try:
                jobs.mark_read(session, user_id, notification_id)
            except jobs.JobError:
                return rx.toast.error("That notification no longer exists.")
            target = next(
                (n["actionUrl"] for n in jobs.notifications(session, user_id)["notifications"] if n["id"] == notification_id),
                None,
            )
        events.publish("notification_read", user_id)
        if target:
            return rx.redirect(target, is_external=target.startswith("http"))

    @rx.event
    async def mark_all_read(self):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        with session_scope() as session:
            jobs.mark_read(session, user_id)
        events.publish("notification_read", user_id)

    @rx.event
    def enable_desktop(self):
        return rx.call_script(
            "window.Notification ? Notification.requestPermission().then(p => p) : 'unsupported'",
            callback=NotificationState.desktop_answer,
        )

    @rx.event
    def desktop_answer(self, permission: str):
        if permission == "granted":
            return rx.toast.success("Desktop notifications are on", description="Shown when this tab is in the background.")
        if permission == "unsupported":
            return rx.toast.error("This browser has no desktop notifications.")
        return rx.toast.warning("Desktop notifications were not allowed", description="Change it in the browser's site settings.")
