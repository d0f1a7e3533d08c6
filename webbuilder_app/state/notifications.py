"""Marking notifications read and following their action."""

import reflex as rx

from workers import events, jobs
from workers.db import session_scope

from .auth import AuthState


class NotificationState(rx.State):
    async def _user_id(self) -> int | None:
        return (await self.get_state(AuthState)).current_user_id()

    @rx.event
    async def open(self, notification_id: int):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        with session_scope() as session:
            try:
                jobs.mark_read(session, user_id, notification_id)
            except jobs.JobError:
                return
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
            return
        with session_scope() as session:
            jobs.mark_read(session, user_id)
        events.publish("notification_read", user_id)
