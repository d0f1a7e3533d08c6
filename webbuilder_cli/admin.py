"""Admin commands that work on the database directly (no running app, no token needed): create the
first user of a fresh deployment, an API token for a CI pipeline, or reset a locked-out user's
password. They read the same settings as the app (DATABASE_URL or WEBBUILDER_DATA_DIR) and bring the
schema up to date first."""

from __future__ import annotations

from workers.services import auth


def create_user(username: str, password: str, *, is_admin: bool) -> int:
    auth.prepare_database()
    return auth.create_user(username, password, is_admin=is_admin).id


def create_token(username: str, name: str) -> str:
    auth.prepare_database()
    return auth.create_api_token_for(username, name)


def reset_password(username: str, password: str) -> int:
    """Returns how many sign-in sessions ended."""
    auth.prepare_database()
    return auth.reset_password(username, password)
