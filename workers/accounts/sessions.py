"""Sign-in sessions: how long they last, how a browser gets one, and how they end.

A session is an `AuthToken` row of kind `session`. It ends when it is revoked (signing out, "sign out
everywhere", a password change), `WEBBUILDER_SESSION_DAYS` after it began, or when it was not used for
`WEBBUILDER_SESSION_IDLE_HOURS`. API tokens (kind `api`) do not expire; their owner revokes them.

Browsers never see a bearer token in page state: the sign-in form makes a `handoff` row whose one-time
code the page exchanges, within HANDOFF_SECONDS, for an HttpOnly cookie (`redeem_handoff`); the
websocket then learns the session from that cookie at its handshake (webbuilder_app/socket_guard.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, desc, select

from workers.config import settings
from workers.store.models import AuthToken, User, as_utc, utcnow

COOKIE_NAME = "webbuilder_session"
HANDOFF_SECONDS = 60
MAX_CLIENT_LENGTH = 200
# Recording every use would write on every request; a minute's precision is enough for the idle limit
# and for spotting dead tokens.
LAST_USED_PRECISION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client_label(client: str) -> str:
    return "".join(char for char in client if char.isprintable())[:MAX_CLIENT_LENGTH]


def issue(session: Session, user: User, *, kind: str = "session", name: str = "", client: str = "") -> tuple[AuthToken, str]:
    """A new bearer token of `kind`; the plain value is returned once and only its digest is kept."""
    token = secrets.token_urlsafe(32)
    row = AuthToken(user_id=user.id, token_hash=digest(token), kind=kind, name=name, client=_client_label(client))
    session.add(row)
    session.flush()
    return row, token


def start_handoff(session: Session, user: User, client: str) -> str:
    """A sign-in from the page: a one-time code for the browser to exchange for its cookie."""
    _row, code = issue(session, user, kind="handoff", client=client)
    return code


def redeem_handoff(session: Session, code: str) -> str | None:
    """Turn a fresh, unused handoff code into a session; returns the session's token (for the
    cookie), or None for a code that is unknown, used or older than HANDOFF_SECONDS."""
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == digest(code or ""), AuthToken.kind == "handoff")).first()
    if row is None or row.revoked or utcnow() - as_utc(row.created_at) > timedelta(seconds=HANDOFF_SECONDS):
        return None
    token = secrets.token_urlsafe(32)
    row.token_hash, row.kind, row.created_at, row.last_used_at = digest(token), "session", utcnow(), utcnow()
    return token


def is_live(row: AuthToken, now: datetime | None = None) -> bool:
    """Whether the token still authenticates: not revoked, and for a session within both limits."""
    if row.revoked or row.kind == "handoff":
        return False
    if row.kind != "session":
        return True
    now = now or utcnow()
    config = settings()
    if now - as_utc(row.created_at) > timedelta(days=config.session_days):
        return False
    return now - as_utc(row.last_used_at or row.created_at) <= timedelta(hours=config.session_idle_hours)


def _used(row: AuthToken) -> None:
    now = utcnow()
    if row.last_used_at is None or now - as_utc(row.last_used_at) > LAST_USED_PRECISION:
        row.last_used_at = now


def user_for_token(session: Session, token: str | None) -> User | None:
    """The user a bearer token (session or API) authenticates, or None."""
    if not token:
        return None
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == digest(token))).first()
    return _user_of(session, row)


def user_for_session(session: Session, session_id: int | None) -> User | None:
    """The user of a live sign-in session given by id (what the websocket's handshake established)."""
    row = session.get(AuthToken, session_id) if session_id else None
    return _user_of(session, row if row is not None and row.kind == "session" else None)


def _user_of(session: Session, row: AuthToken | None) -> User | None:
    if row is None or not is_live(row):
        return None
    _used(row)
    return session.get(User, row.user_id)


def session_id_for_token(session: Session, token: str | None) -> int | None:
    """The id of the live session `token` (a cookie's value) names, or None."""
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == digest(token or ""), AuthToken.kind == "session")).first()
    return row.id if row is not None and is_live(row) else None


def revoke_token(session: Session, token: str) -> None:
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == digest(token))).first()
    if row is not None:
        row.revoked = True


def live_sessions(session: Session, user_id: int) -> list[AuthToken]:
    """The user's sign-in sessions that still work, most recently used first."""
    rows = session.exec(
        select(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.kind == "session", AuthToken.revoked == False)  # noqa: E712
        .order_by(desc(AuthToken.last_used_at), desc(AuthToken.id))
    ).all()
    now = utcnow()
    return [row for row in rows if is_live(row, now)]


def end(session: Session, user_id: int, session_id: int) -> bool:
    """End one of the user's sessions; False when it is not theirs (or not a live session)."""
    row = session.get(AuthToken, session_id)
    if row is None or row.user_id != user_id or row.kind != "session" or not is_live(row):
        return False
    row.revoked = True
    return True


def end_all(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """End every sign-in session of the user but `keep`; API tokens stay. Returns how many ended."""
    rows = session.exec(
        select(AuthToken).where(AuthToken.user_id == user_id, AuthToken.kind.in_(("session", "handoff")), AuthToken.revoked == False)  # noqa: E712
    ).all()
    ended = 0
    for row in rows:
        if row.id != keep:
            row.revoked = True
            ended += 1
    return ended


def ended_among(session: Session, session_ids: set[int]) -> set[int]:
    """Which of these sessions no longer work (revoked, expired, idle too long, or gone)."""
    if not session_ids:
        return set()
    rows = {row.id: row for row in session.exec(select(AuthToken).where(AuthToken.id.in_(session_ids))).all()}
    now = utcnow()
    return {sid for sid in session_ids if sid not in rows or rows[sid].kind != "session" or not is_live(rows[sid], now)}


def session_view(row: AuthToken, current_id: int | None) -> dict:
    return {
        "id": row.id,
        "client": row.client,
        "createdAt": as_utc(row.created_at).isoformat(),
        "lastUsedAt": as_utc(row.last_used_at).isoformat() if row.last_used_at else None,
        "current": row.id == current_id,
    }
