"""Users and bearer tokens. Passwords are hashed with argon2; tokens are stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from workers.models import AuthToken, User, utcnow

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A user-facing reason; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register(session: Session, username: str, password: str, *, is_admin: bool = False) -> User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise AccountError("Username must be 3–32 letters, digits, '.', '_' or '-'.", 422)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", 422)
    if session.exec(select(User).where(User.username == username)).first():
        raise AccountError("That username is taken.", 409)
    user = User(username=username, password_hash=_hasher.hash(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == (username or "").strip())).first()
    try:
        if user is None or not _hasher.verify(user.password_hash, password or ""):
            raise AccountError("Wrong username or password.", 401)
    except (VerificationError, InvalidHashError) as exc:
        raise AccountError("Wrong username or password.", 401) from exc
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
    row.last_used_at = utcnow()
    return session.get(User, row.user_id)


def revoke_token(session: Session, token: str) -> None:
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == _token_digest(token))).first()
    if row is not None:
        row.revoked = True
