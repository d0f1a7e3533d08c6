"""Integrations page: the user's webhooks (add, enable, send a test, remove), their email address for
build notifications, and the recent deliveries of both.

A webhook's secret is shown once, right after it is created. Every handler derives the user from this
tab's sign-in and the engine scopes every query by it, so another user's webhook ids are "not found".
"""

from typing import Any

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from webbuilder_app.components.shown_once import reveal
from workers.errors import UserError
from workers.services import settings as email_settings
from workers.services import webhooks
from workers.store.models import User

from .auth import AuthState


class IntegrationsState(rx.State):
    webhooks: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    secret_shown: bool = False
    webhook_error: str = ""
    email: str = ""
    email_notifications: bool = False
    email_available: bool = False
    email_error: str = ""
    saved_email: str = ""  # the stored address (the field above is what is being typed)
    email_verified: bool = False
    confirmation_sent: bool = False  # a confirmation link that still works is on its way

    async def _user(self) -> User | None:
        return (await self.get_state(AuthState))._signed_in_user()

    def _reload(self, user: User) -> None:
        self.webhooks = webhooks.list_webhooks(user)
        self.deliveries = webhooks.recent_deliveries(user)
        self._show_settings(email_settings.notification_settings(user))

    def _show_settings(self, current: dict) -> None:
        self.email, self.email_notifications = current["email"] or "", current["emailNotifications"]
        self._show_email_status(current)

    def _show_email_status(self, current: dict) -> None:
        self.saved_email, self.email_available = current["email"] or "", current["emailAvailable"]
        self.email_verified, self.confirmation_sent = current["emailVerified"], current["verificationSentAt"] is not None

    @rx.event
    async def load(self):
        self.secret_shown, self.webhook_error, self.email_error = False, "", ""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        self._reload(user)

    @rx.event
    async def refresh(self):
        """Retries happen in the background; this re-reads their outcome."""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        self._reload(user)

    @rx.event
    async def add_webhook(self, form: dict):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            # Off the event loop: the URL's host is looked up (up to 10 s) to refuse private addresses.
            _view, secret = await run_in_threadpool(webhooks.create, user, form.get("url", ""))
        except UserError as exc:
            self.webhook_error, self.secret_shown = str(exc), False
            return None
        self.webhook_error, self.secret_shown = "", True
        self._reload(user)
        return reveal("webhook-secret", secret)

    @rx.event
    async def set_webhook_enabled(self, webhook_id: int, enabled: bool):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            webhooks.set_enabled(user, webhook_id, bool(enabled))
        except UserError as exc:
            return rx.toast.error(str(exc))
        self._reload(user)

    @rx.event
    async def remove_webhook(self, webhook_id: int):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            webhooks.delete(user, webhook_id)
        except UserError as exc:
            return rx.toast.error(str(exc))
        self.secret_shown = False
        self._reload(user)
        return rx.toast.info("Webhook removed; nothing more is sent to it.")

    @rx.event
    async def send_test(self, webhook_id: int):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            # Waits for the receiver (up to 10 s) off the event loop.
            sent = await run_in_threadpool(webhooks.send_test, user, webhook_id)
        except UserError as exc:
            return rx.toast.error(str(exc))
        self._reload(user)
        if sent["status"] == "delivered":
            return rx.toast.success(f"Test delivered: the receiver answered {sent['responseCode']}.")
        return rx.toast.error(f"Test not delivered: {sent['error']}.")

    @rx.event
    def set_email(self, value: str):
        self.email = str(value)

    @rx.event
    def set_email_notifications(self, value: bool):
        self.email_notifications = bool(value)

    @rx.event
    async def save_email(self):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            # A new address is mailed its confirmation link (an SMTP exchange): off the event loop.
            current = await run_in_threadpool(email_settings.set_notification_settings, user, self.email, self.email_notifications)
        except UserError as exc:
            self.email_error = str(exc)
            self._show_email_status(email_settings.notification_settings(user))  # e.g. saved, but the link not sent
            return None
        link_sent = current["email"] != self.saved_email and current["verificationSentAt"] is not None
        self.email_error = ""
        self._show_settings(current)
        if link_sent:
            return rx.toast.success(f"Saved. Confirm {current['email']} with the link just mailed to it; build emails start then.")
        return rx.toast.success("Email notifications saved.")

    @rx.event
    async def resend_confirmation(self):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            current = await run_in_threadpool(email_settings.resend_verification, user)
        except UserError as exc:
            return rx.toast.error(str(exc))
        self._show_email_status(current)
        return rx.toast.success(f"A new confirmation link is on its way to {current['email']}.")
