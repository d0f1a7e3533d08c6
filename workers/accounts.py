"""Users and bearer tokens. Passwords are hashed with argon2; tokens are stored as SHA-256 only.

Two kinds of token: `session` (issued by signing in, revoked by signing out) and `api` (named, created
and revoked by the user for scripts and CI). Both authenticate the same way.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, desc, select

from workers import login_throttle, mailer
from workers.models import AuthToken, User, utcnow

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_NAME_LENGTH = 100
# The address rule browsers apply to <input type="email"> (WHATWG HTML), ASCII only, so any SMTP
# server takes it.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
MAX_EMAIL_LENGTH = 254
# Recording every use would write on every request; a minute's precision is enough to spot dead tokens.
LAST_USED_PRECISION = timedelta(minutes=1)


class AccountError(ValueError):
    """A user-facing reason; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so both answers take as long."""
    return _hasher.hash("not-a-real-password")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", 422)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", 422)


def register(session: Session, username: str, password: str, *, is_admin: bool = False) -> User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise AccountError("Username must be 3–32 letters, digits, '.', '_' or '-'.", 422)
    _check_password(password)
    key = username.lower()
    if session.exec(select(User).where((User.username_key == key) | (User.username == username))).first():
        raise AccountError("That username is taken.", 409)
    user = User(username=username, username_key=key, password_hash=_hasher.hash(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, *, client: str = "") -> User:
    """Check a password. After too many failures for this username from this client, refuse with 429
    before checking, so guessing is throttled (see login_throttle)."""
    username = (username or "").strip()
    wait = login_throttle.seconds_blocked(username, client)
    if wait:
        raise AccountError(f"Too many failed sign-ins; try again in {wait} s.", 429, retry_after=wait)
    # A name that could never be registered is not looked up (and cannot reach the database as NUL etc.).
    user = session.exec(select(User).where(User.username == username)).first() if USERNAME_RE.match(username) else None
    try:
        valid = _hasher.verify(user.password_hash if user else _dummy_hash(), (password or "")[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        valid = False
    if user is None or not valid:
        login_throttle.record_failure(username, client)
        raise AccountError("Wrong username or password.", 401)
    login_throttle.forget(username, client)
    return user


def issue_token(session: Session, user: User, *, kind: str = "session", name: str = "") -> str:
    """Create a bearer token; the plain value is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    session.add(AuthToken(user_id=user.id, token_hash=_token_digest(token), kind=kind, name=name))
    session.flush()
    return token


def user_for_token(session: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = session.exec(
        select(AuthToken).where(AuthToken.token_hash == _token_digest(token), AuthToken.revoked == False)  # noqa: E712
    ).first()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - _aware(row.last_used_at) > LAST_USED_PRECISION:
        row.last_used_at = now
    return session.get(User, row.user_id)


def revoke_token(session: Session, token: str) -> None:
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == _token_digest(token))).first()
    if row is not None:
        row.revoked = True


# --- API tokens ------------------------------------------------------------------------------------

def token_view(row: AuthToken) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "createdAt": _aware(row.created_at).isoformat(),
        "lastUsedAt": _aware(row.last_used_at).isoformat() if row.last_used_at else None,
    }


def create_api_token(session: Session, user: User, name: str) -> tuple[AuthToken, str]:
    """A named token for scripts; returns the row and the plain token (shown to the user once)."""
    name = (name or "").strip()
    if not name:
        raise AccountError("Give the token a name, e.g. the CI pipeline that will use it.", 422)
    if len(name) > MAX_TOKEN_NAME_LENGTH:
        raise AccountError(f"The token name is longer than {MAX_TOKEN_NAME_LENGTH} characters.", 422)
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise AccountError("The token name may not contain control characters.", 422)
    plain = issue_token(session, user, kind="api", name=name)
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == _token_digest(plain))).one()
    return row, plain


def api_tokens(session: Session, user_id: int) -> list[AuthToken]:
    """The user's API tokens that still work, newest first."""
    return list(
        session.exec(
            select(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.kind == "api", AuthToken.revoked == False)  # noqa: E712
            .order_by(desc(AuthToken.created_at), desc(AuthToken.id))
        ).all()
    )


def revoke_api_token(session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of the user's API tokens; another user's token is 'not found', not 'forbidden'."""
    row = session.get(AuthToken, token_id)
    if row is None or row.user_id != user_id or row.kind != "api" or row.revoked:
        raise AccountError("Token not found.", 404)
    row.revoked = True


# --- email notifications ---------------------------------------------------------------------------

def notification_settings(user: User) -> dict:
    """Where build emails go; `emailAvailable` says whether this server can send any (SMTP set up)."""
    return {"email": user.email, "emailNotifications": user.email_notifications, "emailAvailable": mailer.configured()}


def set_notification_settings(session: Session, user_id: int, email: str | None, enabled: bool) -> User:
    """Set the address for emails about finished builds (None or blank: no address) and whether
    they are sent."""
    email = (email or "").strip() or None
    if email is not None and (len(email) > MAX_EMAIL_LENGTH or not EMAIL_RE.fullmatch(email)):
        raise AccountError("That is not an email address (like you@example.com).", 422)
    if enabled and email is None:
        raise AccountError("Enter an email address to turn build emails on.", 422)
    user = session.get(User, user_id)
    user.email, user.email_notifications = email, enabled
    return user


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
