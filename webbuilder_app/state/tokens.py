"""API tokens page: create a named token for a script, see when each was last used, revoke it.

The plain token is shown once, right after creation, without passing through this state (only its
hash is stored; components/shown_once.py). Every handler acts as this tab's signed-in user, so another
user's token ids are simply "not found".
"""

from typing import Any

import reflex as rx

from webbuilder_app.components.shown_once import reveal
from workers.errors import UserError
from workers.services import auth
from workers.store.models import User

from .auth import AuthState


class TokensState(rx.State):
    tokens: list[dict[str, Any]] = []
    token_shown: bool = False
    token_error: str = ""

    async def _user(self) -> User | None:
        return (await self.get_state(AuthState))._signed_in_user()

    @rx.event
    async def load(self):
        self.token_shown, self.token_error = False, ""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        self.tokens = auth.list_api_tokens(user)

    @rx.event
    async def create(self, form: dict):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            _view, plain = auth.create_api_token(user, form.get("name", ""))
        except UserError as exc:
            self.token_error, self.token_shown = str(exc), False
            return None
        self.token_error, self.token_shown = "", True
        self.tokens = auth.list_api_tokens(user)
        return reveal("created-token", plain)

    @rx.event
    async def revoke(self, token_id: int):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            auth.revoke_api_token(user, token_id)
        except UserError as exc:
            return rx.toast.error(str(exc))
        self.tokens = auth.list_api_tokens(user)
        return rx.toast.info("Token revoked; it stops working at once.")
