"""Who is signed in. The token lives in the browser; the user id is only ever derived from it here."""

import reflex as rx

from workers import accounts
from workers.client_address import client_address
from workers.config import settings
from workers.db import session_scope


class AuthState(rx.State):
    token: str = rx.LocalStorage("", name="webbuilder_token", sync=True)
    username: str = ""
    is_admin: bool = False
    auth_error: str = ""
    _user_id: int | None = None

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.username)

    def current_user_id(self) -> int | None:
        """Re-validate the token on every use: a revoked token stops working at once."""
        with session_scope() as session:
            user = accounts.user_for_token(session, self.token)
            if user is None:
                self._user_id, self.username, self.is_admin = None, "", False
                return None
            self._user_id, self.username, self.is_admin = user.id, user.username, user.is_admin
            return user.id

    @rx.event
    def require_login(self):
        if self.current_user_id() is None:
            return rx.redirect("/login")

    @rx.event
    def redirect_if_signed_in(self):
        if self.current_user_id() is not None:
            return rx.redirect("/")

    def _start_session(self, user) -> rx.event.EventSpec:
        with session_scope() as session:
            self.token = accounts.issue_token(session, user)
        self._user_id, self.username, self.is_admin, self.auth_error = user.id, user.username, user.is_admin, ""
        return rx.redirect("/")

    def _client(self) -> str:
        """Who is signing in, for the login throttle: behind a trusted proxy, the client it forwards
        (Reflex's own client_ip is the connecting peer while its trusted_proxy_hops stays 0)."""
        forwarded_for = self.router.headers.raw_headers.get("x-forwarded-for", "")
        return client_address(self.router.session.client_ip, forwarded_for, settings().trusted_proxies)

    @rx.event
    def login(self, form: dict):
        try:
            with session_scope() as session:
                user = accounts.authenticate(session, form.get("username", ""), form.get("password", ""), client=self._client())
        except accounts.AccountError as exc:
            self.auth_error = str(exc)
            return
        return self._start_session(user)

    @rx.event
    def register(self, form: dict):
        try:
            with session_scope() as session:
                user = accounts.register(session, form.get("username", ""), form.get("password", ""))
        except accounts.AccountError as exc:
            self.auth_error = str(exc)
            return
        return self._start_session(user)

    @rx.event
    async def logout(self):
        if self.token:
            with session_scope() as session:
                accounts.revoke_token(session, self.token)
        self.token, self.username, self.is_admin, self._user_id = "", "", False, None
        # Stop this tab from receiving the signed-out user's live updates.
        from .feed import NotificationFeedState, QueueFeedState
        from .job import JobFeedState

        for shared in (NotificationFeedState, QueueFeedState, JobFeedState):
            view = await self.get_state(shared)
            if view._linked_to:
                await view._unlink()
        return rx.redirect("/login")
