"""Admin commands that work on the database directly (no running app, no token needed): create the
first user of a fresh deployment, or an API token for a CI pipeline. They read the same settings as the
app (DATABASE_URL or WEBBUILDER_DATA_DIR) and bring the schema up to date first."""

from __future__ import annotations

from sqlmodel import select

from workers import accounts
from workers.db import migrate, session_scope
from workers.models import User


def create_user(username: str, password: str, *, is_admin: bool) -> int:
    migrate()
    with session_scope() as session:
        return accounts.register(session, username, password, is_admin=is_admin).id


def create_token(username: str, name: str) -> str:
    migrate()
    with session_scope() as session:
        user = session.exec(select(User).where(User.username == username.strip())).first()
        if user is None:
            raise accounts.AccountError(f"There is no user {username!r}.", 404)
        _row, plain = accounts.create_api_token(session, user, name)
        return plain
