"""Marking notifications read, following their action, and announcing new ones in each tab."""

import json

import reflex as rx

from workers.errors import UserError
from workers.services import notifications
from workers.store.models import User

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

    async def _user(self) -> User | None:
        return (await self.get_state(AuthState))._signed_in_user()

    def _mark_seen(self, seen: list[dict]) -> None:
        self._seen_id = max([self._seen_id, *(n["id"] for n in seen)])

    @rx.event
    async def announce(self):
        """Sent by the backend's relay when this user got notifications: toast the new ones."""
        user = await self._user()
        if user is None:
            return
        recent = notifications.recent(user, limit=10)["notifications"]
        fresh = [n for n in recent if n["id"] > self._seen_id]
        self._mark_seen(fresh)
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
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            target = notifications.open_notification(user, notification_id)
        except UserError:
            return rx.toast.error("That notification no longer exists.")
        if target:
            return rx.redirect(target, is_external=target.startswith("http"))

    @rx.event
    async def mark_all_read(self):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        notifications.mark_read(user)

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
