"""Accounts, sign-in sessions and API tokens."""

from __future__ import annotations

from workers.accounts import sessions
from workers.accounts import users as accounts
from workers.config import settings
from workers.errors import UserError
from workers.net.client_address import client_address
from workers.store.db import migrate, session_scope
from workers.store.models import User

COOKIE_NAME = sessions.COOKIE_NAME  # the browser session's cookie, which the web app sets and reads


def client_of(peer: str | None, forwarded_for: str | None) -> str:
    """The address the sign-in limits count by: the peer, or behind a trusted proxy the client it names."""
    return client_address(peer, forwarded_for, settings().trusted_proxies)


def prepare_database() -> None:
    """Bring the schema up to date (the admin CLI works on the database directly)."""
    migrate()


def register(username: str, password: str, *, client: str = "", label: str = "") -> tuple[User, str]:
    """A new account, signed in: the user and a session token (for the API). `client` is the address
    the limits count by; `label` what the Account page shows for the session."""
    with session_scope() as session:
        user = accounts.register(session, username, password, client=client)
        _row, token = sessions.issue(session, user, client=label)
        return user, token


def sign_in(username: str, password: str, *, client: str = "", label: str = "") -> tuple[User, str]:
    """Check the password (throttled, see login_throttle) and open a session: the user and its token."""
    with session_scope() as session:
        user = accounts.authenticate(session, username, password, client=client)
        _row, token = sessions.issue(session, user, client=label)
        return user, token


def register_in_browser(username: str, password: str, *, client: str = "", label: str = "") -> str:
    """As `register`, for the sign-up form: a one-time code the page exchanges for its cookie."""
    with session_scope() as session:
        user = accounts.register(session, username, password, client=client)
        return sessions.start_handoff(session, user, label)


def sign_in_browser(username: str, password: str, *, client: str = "", label: str = "") -> str:
    """As `sign_in`, for the sign-in form: a one-time code the page exchanges for its cookie."""
    with session_scope() as session:
        user = accounts.authenticate(session, username, password, client=client)
        return sessions.start_handoff(session, user, label)


def redeem_handoff(code: str) -> str | None:
    """The session token for the browser's cookie, or None for a stale or used code."""
    with session_scope() as session:
        return sessions.redeem_handoff(session, code)


def user_for_token(token: str | None) -> User | None:
    """The acting user of a bearer token or cookie value (session or API), or None."""
    with session_scope() as session:
        return sessions.user_for_token(session, token)


def user_for_session(session_id: int | None) -> User | None:
    """The acting user of a live sign-in session (as the websocket's handshake established it)."""
    with session_scope() as session:
        return sessions.user_for_session(session, session_id)


def account(user_id: int) -> User | None:
    """The user of a trusted id: for server-side callers only (the live relay, whose ids come from the
    server's own change notices), never for an id a client sent."""
    with session_scope() as session:
        return session.get(User, user_id)


def ended_sessions(session_ids: set[int]) -> set[int]:
    """Which of these sign-in sessions no longer work."""
    with session_scope() as session:
        return sessions.ended_among(session, session_ids)


def session_id_for_token(token: str | None) -> int | None:
    with session_scope() as session:
        return sessions.session_id_for_token(session, token)


def sign_out(token: str) -> None:
    """End the session (or revoke the token) a request was made with."""
    with session_scope() as session:
        sessions.revoke_token(session, token)
    # No change notice: pages and streams of the session notice it end (see sessions.ended_among).


def list_sessions(user: User, current_id: int | None = None) -> list[dict]:
    with session_scope() as session:
        return [sessions.session_view(row, current_id) for row in sessions.live_sessions(session, user.id)]


def end_session(user: User, session_id: int) -> None:
    with session_scope() as session:
        if not sessions.end(session, user.id, session_id):
            raise UserError("Session not found.", 404)


def end_all_sessions(user: User, *, keep: int | None = None) -> int:
    """Sign out everywhere (but the session `keep`); API tokens keep working."""
    with session_scope() as session:
        return sessions.end_all(session, user.id, keep=keep)


def change_password(user: User, current: str, new: str, *, keep_session: int | None = None) -> int:
    """Change the password after checking the current one; every other sign-in session ends.
    Returns how many sessions ended."""
    with session_scope() as session:
        account = session.get(User, user.id)
        if not accounts.password_matches(account, current):
            raise UserError("The current password is wrong.", 403)
        accounts.set_password(session, user.id, new)
        return sessions.end_all(session, user.id, keep=keep_session)


def reset_password(username: str, password: str) -> int:
    """An operator's reset for a locked-out user (the CLI on the server): new password, every
    sign-in session ended. Returns how many ended."""
    with session_scope() as session:
        user = accounts.find_user(session, username)
        if user is None:
            raise UserError(f"There is no user {username!r}.", 404)
        accounts.set_password(session, user.id, password)
        return sessions.end_all(session, user.id)


# --- API tokens ------------------------------------------------------------------------------------

def list_api_tokens(user: User) -> list[dict]:
    with session_scope() as session:
        return [accounts.token_view(row) for row in accounts.api_tokens(session, user.id)]


def create_api_token(user: User, name: str) -> tuple[dict, str]:
    """A named token for scripts: its view and the plain token (to show once)."""
    with session_scope() as session:
        row, plain = accounts.create_api_token(session, user, name)
        return accounts.token_view(row), plain


def create_api_token_for(username: str, name: str) -> str:
    """The CLI's `admin create-token` on the server: a token for the named user."""
    with session_scope() as session:
        user = accounts.find_user(session, username)
        if user is None:
            raise UserError(f"There is no user {username!r}.", 404)
        _row, plain = accounts.create_api_token(session, user, name)
        return plain


def revoke_api_token(user: User, token_id: int) -> None:
    with session_scope() as session:
        accounts.revoke_api_token(session, user.id, token_id)


def create_user(username: str, password: str, *, is_admin: bool = False) -> User:
    """The CLI's `admin create-user` on the server."""
    with session_scope() as session:
        return accounts.register(session, username, password, is_admin=is_admin)

