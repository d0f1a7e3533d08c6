"""Who is signed in, for this tab.

No credential lives in Reflex state. The browser holds an HttpOnly session cookie; the websocket guard
(socket_guard.py) turns it into the session's row id at the socket's handshake, and every event
re-checks that session (`_signed_in_user`), so a session that ended stops working at once. Signing in
hands the page a one-time code, exchanged for the cookie over HTTP (`/api/auth/session`), and the page
reloads so its new socket carries the cookie.
"""

import asyncio
import json

import reflex as rx

from webbuilder_app.socket_guard import SESSION_HEADER
from workers.errors import UserError
from workers.services import auth
from workers.store.models import User

from .changes import assign_changed


def _enter_session(code: str, then: str = "/") -> rx.event.EventSpec:
    """Exchange the sign-in code for the session cookie, then load the app afresh (a new socket)."""
    return rx.call_script(
        "fetch('/api/auth/session', {method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{code: {json.dumps(code)}}})}})"
        f".then(r => {{ if (r.ok) window.location.replace({json.dumps(then)}); }})"
    )


def leave_session(then: str = "/login") -> list[rx.event.EventSpec]:
    """Drop the session cookie and go to `then` (the socket stays: its session has ended already)."""
    return [rx.call_script("fetch('/api/auth/session', {method: 'DELETE', credentials: 'same-origin'})"), rx.redirect(then)]


class AuthState(rx.State):
    username: str = ""
    is_admin: bool = False
    auth_error: str = ""

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.username)

    def _session_id(self) -> int | None:
        raw = self.router.headers.raw_headers.get(SESSION_HEADER, "")
        return int(raw) if raw.isdigit() else None

    def _signed_in_user(self) -> User | None:
        """The user of this tab's session, re-read on every call; None once it ended."""
        user = auth.user_for_session(self._session_id())
        assign_changed(self, username=user.username if user else "", is_admin=bool(user and user.is_admin))
        return user

    def _client(self) -> str:
        """Who is signing in, for the login throttle: behind a trusted proxy, the client it forwards
        (Reflex's own client_ip is the connecting peer while its trusted_proxy_hops stays 0)."""
        forwarded_for = self.router.headers.raw_headers.get("x-forwarded-for", "")
        return auth.client_of(self.router.session.client_ip, forwarded_for)

    def _client_label(self) -> str:
        """What the Account page shows for the session: the browser and its address."""
        return f"{self.router.headers.user_agent[:150]} · {self._client()}"

    @rx.event
    async def require_login(self):
        if self._signed_in_user() is None:
            await self._stop_live_updates()
            return rx.redirect("/login")

    @rx.event
    def redirect_if_signed_in(self):
        if self._signed_in_user() is not None:
            return rx.redirect("/")

    async def _sign_in_with(self, use_case, form: dict):
        try:
            code = await asyncio.to_thread(
                use_case, form.get("username", ""), form.get("password", ""), client=self._client(), label=self._client_label()
            )
        except UserError as exc:
            self.auth_error = str(exc)
            return None
        self.auth_error = ""
        return _enter_session(code)

    @rx.event
    async def login(self, form: dict):
        return await self._sign_in_with(auth.sign_in_browser, form)

    @rx.event
    async def register(self, form: dict):
        return await self._sign_in_with(auth.register_in_browser, form)

    async def _stop_live_updates(self) -> None:
        """Unlink this tab from the live feeds (every shared state is one) it showed: it no longer
        acts as that user."""
        for shared in rx.SharedState.__subclasses__():
            view = await self.get_state(shared)
            if view._linked_to:
                await view._unlink()

    @rx.event
    async def logout(self):
        user = self._signed_in_user()
        if user is not None and (session_id := self._session_id()) is not None:
            auth.end_session(user, session_id)
        self.username, self.is_admin = "", False
        await self._stop_live_updates()
        return leave_session()
