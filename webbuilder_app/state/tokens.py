"""API tokens page: create a named token for a script, see when each was last used, revoke it.

The plain token is shown once, right after creation (only its hash is stored). Every handler derives
the user from this tab's sign-in, so another user's token ids are simply "not found".
"""

from typing import Any

import reflex as rx

from workers import accounts
from workers.db import session_scope
from workers.models import User

from .auth import AuthState


class TokensState(rx.State):
    tokens: list[dict[str, Any]] = []
    created_token: str = ""
    token_error: str = ""

    async def _user_id(self) -> int | None:
        return (await self.get_state(AuthState)).current_user_id()

    def _reload(self, user_id: int) -> None:
        with session_scope() as session:
            self.tokens = [accounts.token_view(row) for row in accounts.api_tokens(session, user_id)]

    @rx.event
    async def load(self):
        self.created_token, self.token_error = "", ""
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        self._reload(user_id)

    @rx.event
    async def create(self, form: dict):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                _row, self.created_token = accounts.create_api_token(session, session.get(User, user_id), form.get("name", ""))
        except accounts.AccountError as exc:
            self.token_error, self.created_token = str(exc), ""
            return
        self.token_error = ""
        self._reload(user_id)

    @rx.event
    async def revoke(self, token_id: int):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                accounts.revoke_api_token(session, user_id, token_id)
        except accounts.AccountError as exc:
            return rx.toast.error(str(exc))
        self._reload(user_id)
        return rx.toast.info("Token revoked; it stops working at once.")
