"""Account page: the user's sign-in sessions (sign one out, or all) and a password change."""

from typing import Any

import reflex as rx

from workers.errors import UserError
from workers.services import auth
from workers.store.models import User

from .auth import AuthState, leave_session


class AccountState(rx.State):
    sessions: list[dict[str, Any]] = []
    password_error: str = ""

    async def _signed_in(self) -> tuple[User | None, int | None]:
        state = await self.get_state(AuthState)
        return state._signed_in_user(), state._session_id()

    @rx.event
    async def load(self):
        self.password_error = ""
        user, current = await self._signed_in()
        if user is None:
            return rx.redirect("/login")
        self.sessions = auth.list_sessions(user, current)

    @rx.event
    async def end_session(self, session_id: int):
        user, current = await self._signed_in()
        if user is None:
            return rx.redirect("/login")
        try:
            auth.end_session(user, session_id)
        except UserError as exc:
            return rx.toast.error(str(exc))
        if session_id == current:
            return leave_session()
        self.sessions = auth.list_sessions(user, current)
        return rx.toast.info("Signed out there: its pages stop updating within seconds.")

    @rx.event
    async def end_everywhere(self):
        user, _current = await self._signed_in()
        if user is None:
            return rx.redirect("/login")
        auth.end_all_sessions(user)
        return leave_session()

    @rx.event
    async def change_password(self, form: dict):
        user, current = await self._signed_in()
        if user is None:
            return rx.redirect("/login")
        if form.get("new_password", "") != form.get("repeat_password", ""):
            self.password_error = "The new password and its repetition differ."
            return None
        try:
            ended = auth.change_password(user, form.get("current_password", ""), form.get("new_password", ""), keep_session=current)
        except UserError as exc:
            self.password_error = str(exc)
            return None
        self.password_error = ""
        self.sessions = auth.list_sessions(user, current)
        return rx.toast.success("Password changed", description=f"{ended} other session(s) signed out.")
