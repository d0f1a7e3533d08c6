"""Integrations page: the user's webhooks (add, enable, send a test, remove), their email address for
build notifications, and the recent deliveries of both.

A webhook's secret is shown once, right after it is created. Every handler derives the user from this
tab's sign-in and the engine scopes every query by it, so another user's webhook ids are "not found".
"""

from typing import Any

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from workers import accounts, deliveries, webhooks
from workers.db import session_scope
from workers.models import User

from .auth import AuthState


class IntegrationsState(rx.State):
    webhooks: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    created_secret: str = ""
    webhook_error: str = ""
    email: str = ""
    email_notifications: bool = False
    email_available: bool = False
    email_error: str = ""

    async def _user_id(self) -> int | None:
        return (await self.get_state(AuthState)).current_user_id()

    def _reload(self, user_id: int) -> None:
        with session_scope() as session:
            self.webhooks = [webhooks.endpoint_view(row) for row in webhooks.endpoints(session, user_id)]
            self.deliveries = [deliveries.delivery_view(row) for row in deliveries.recent(session, user_id)]
            self._show_settings(session.get(User, user_id))

    def _show_settings(self, user: User) -> None:
        current = accounts.notification_settings(user)
        self.email, self.email_notifications = current["email"] or "", current["emailNotifications"]
        self.email_available = current["emailAvailable"]

    @rx.event
    async def load(self):
        self.created_secret, self.webhook_error, self.email_error = "", "", ""
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        self._reload(user_id)

    @rx.event
    async def refresh(self):
        """Retries happen in the background; this re-reads their outcome."""
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        self._reload(user_id)

    @rx.event
    async def add_webhook(self, form: dict):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                _endpoint, self.created_secret = webhooks.create(session, user_id, form.get("url", ""))
        except webhooks.WebhookError as exc:
            self.webhook_error, self.created_secret = str(exc), ""
            return
        self.webhook_error = ""
        self._reload(user_id)

    @rx.event
    async def set_webhook_enabled(self, webhook_id: int, enabled: bool):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                webhooks.set_enabled(session, user_id, webhook_id, enabled)
        except webhooks.WebhookError as exc:
            return rx.toast.error(str(exc))
        self._reload(user_id)

    @rx.event
    async def remove_webhook(self, webhook_id: int):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                webhooks.delete(session, user_id, webhook_id)
        except webhooks.WebhookError as exc:
            return rx.toast.error(str(exc))
        self.created_secret = ""
        self._reload(user_id)
        return rx.toast.info("Webhook removed; nothing more is sent to it.")

    @rx.event
    async def send_test(self, webhook_id: int):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            # Waits for the receiver (up to 5 s) off the event loop.
            sent = deliveries.delivery_view(await run_in_threadpool(deliveries.send_test, user_id, webhook_id))
        except webhooks.WebhookError as exc:
            return rx.toast.error(str(exc))
        self._reload(user_id)
        if sent["status"] == "delivered":
            return rx.toast.success(f"Test delivered: the receiver answered {sent['responseCode']}.")
        return rx.toast.error(f"Test not delivered: {sent['error']}.")

    @rx.event
    def set_email(self, value: str):
        self.email = value

    @rx.event
    def set_email_notifications(self, value: bool):
        self.email_notifications = value

    @rx.event
    async def save_email(self):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                self._show_settings(accounts.set_notification_settings(session, user_id, self.email, self.email_notifications))
        except accounts.AccountError as exc:
            self.email_error = str(exc)
            return
        self.email_error = ""
        return rx.toast.success("Email notifications saved.")
