"""Users, their passwords (argon2, in workers/passwords.py's pool), API tokens and email settings.

Bearer tokens are stored as SHA-256 only. Two kinds authenticate the same way: sign-in sessions
(workers/sessions.py: how they begin, last and end) and `api` tokens (named, created and revoked by
the user for scripts and CI, here).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, desc, select

from workers.accounts import login_throttle, passwords, sessions
from workers.errors import UserError
from workers.notify import mailer
from workers.store.models import AuthToken, User, as_utc, utcnow
from workers.text import has_control_characters

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


def _busy() -> UserError:
    return UserError("The server is busy checking passwords; try again in a moment.", 503, retry_after=1)


def _hash(password: str) -> str:
    """argon2 in the bounded pool (workers/passwords.py); 503 when it is full."""
    try:
        return passwords.hash_password(password)
    except passwords.PasswordPoolBusy as exc:
        raise _busy() from exc


def _matches(password_hash: str | None, password: str) -> bool:
    """As _hash; None (no such user) takes as long as a wrong password."""
    try:
        return passwords.verify(password_hash, (password or "")[:MAX_PASSWORD_LENGTH])
    except passwords.PasswordPoolBusy as exc:
        raise _busy() from exc


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", 422)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", 422)


def register(session: Session, username: str, password: str, *, is_admin: bool = False, client: str | None = None) -> User:
    """A new account. `client` is the address a sign-up came from (registrations per address are
    limited, see login_throttle); None for the operator's CLI and in-process callers."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise UserError("Username must be 3–32 letters, digits, '.', '_' or '-'.", 422)
    _check_password(password)
    key = username.lower()
    if session.exec(select(User).where((User.username_key == key) | (User.username == username))).first():
        raise UserError("That username is taken.", 409)
    attempt = None
    if client is not None:
        try:
            attempt = login_throttle.begin_registration(username, client)
        except login_throttle.Throttled as exc:
            raise UserError(f"Too many new accounts from your address; try again in {exc.retry_after} s.", 429,
                               retry_after=exc.retry_after) from exc
    try:
        user = User(username=username, username_key=key, password_hash=_hash(password), is_admin=is_admin)
        session.add(user)
        session.flush()
    except (UserError, IntegrityError) as exc:
        if attempt:
            attempt.cancel()
        if isinstance(exc, IntegrityError):  # the same name, in any case, was registered meanwhile
            raise UserError("That username is taken.", 409) from exc
        raise
    if attempt:
        attempt.succeeded()
    return user


def authenticate(session: Session, username: str, password: str, *, client: str = "") -> User:
    """Check a password, counted by the sign-in limits (see login_throttle): a refused attempt is 429
    with retry_after before any password is checked; a full password pool is 503."""
    username = (username or "").strip()
    try:
        attempt = login_throttle.begin_sign_in(username, client)
    except login_throttle.Throttled as exc:
        raise UserError(f"Too many failed sign-ins; try again in {exc.retry_after} s.", 429, retry_after=exc.retry_after) from exc
    user = find_user(session, username)
    try:
        valid = _matches(user.password_hash if user else None, password)
    except UserError:  # the pool was busy: no password was checked
        attempt.cancel()
        raise
    if user is None or not valid:
        raise UserError("Wrong username or password.", 401)  # the attempt stays counted
    attempt.succeeded()
    return user


def set_password(session: Session, user_id: int, password: str) -> User:
    """Give the account a new password (the caller decides which sessions end with the old one)."""
    _check_password(password)
    user = session.get(User, user_id)
    user.password_hash = _hash(password)
    return user


def password_matches(user: User, password: str) -> bool:
    return _matches(user.password_hash, password)


def find_user(session: Session, username: str) -> User | None:
    """The account named `username`, ignoring case. An old account whose name differs from an older
    one's only in case has no key (migration 0004): its exact name finds it, so that is tried first."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):  # a name that could never be registered is not looked up
        return None
    found = session.exec(select(User).where((User.username == username) | (User.username_key == username.lower()))).all()
    return next((user for user in found if user.username == username), found[0] if found else None)


# --- API tokens ------------------------------------------------------------------------------------

def token_view(row: AuthToken) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "createdAt": as_utc(row.created_at).isoformat(),
        "lastUsedAt": as_utc(row.last_used_at).isoformat() if row.last_used_at else None,
    }


def create_api_token(session: Session, user: User, name: str) -> tuple[AuthToken, str]:
    """A named token for scripts; returns the row and the plain token (shown to the user once)."""
    name = (name or "").strip()
    if not name:
        raise UserError("Give the token a name, e.g. the CI pipeline that will use it.", 422)
    if len(name) > MAX_TOKEN_NAME_LENGTH:
        raise UserError(f"The token name is longer than {MAX_TOKEN_NAME_LENGTH} characters.", 422)
    if has_control_characters(name):
        raise UserError("The token name may not contain control characters.", 422)
    return sessions.issue(session, user, kind="api", name=name)


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
        raise UserError("Token not found.", 404)
    row.revoked = True


# --- email notifications ---------------------------------------------------------------------------
# Build emails go only to an address its owner confirmed. Setting an address mails a link to the
# confirmation page (config.VERIFY_EMAIL_PATH) with a random code, of which only the SHA-256 is kept; the
# page's button confirms it (a POST, so a mail scanner that opens links confirms nothing). A code is
# single-use, works for VERIFICATION_HOURS, and only for the address it was sent to: changing the
# address drops it. A user gets at most one link per RESEND_SECONDS, so nobody can use the server to
# flood an inbox.
VERIFICATION_HOURS = 24
RESEND_SECONDS = 60
NO_MAIL_SERVER = "This server has no mail server configured (WEBBUILDER_SMTP_HOST), so it sends no emails."


def _link_sent_at(user: User) -> datetime | None:
    """When the user's confirmation link that still works was sent, or None."""
    sent = user.email_verification_sent_at
    if user.email_verification_hash is None or sent is None:
        return None
    sent = as_utc(sent)
    return sent if utcnow() - sent <= timedelta(hours=VERIFICATION_HOURS) else None


def notification_settings(user: User) -> dict:
    """Where build emails go; `emailAvailable` says whether this server can send any (SMTP set up)."""
    link_sent = _link_sent_at(user)
    return {
        "email": user.email,
        "emailNotifications": user.email_notifications,
        "emailAvailable": mailer.configured(),
        "emailVerified": user.email_confirmed,
        "verificationSentAt": link_sent.isoformat() if link_sent else None,
    }


def set_notification_settings(session: Session, user_id: int, email: str | None, enabled: bool) -> tuple[User, str | None]:
    """Set the address for emails about finished builds (None or blank: no address) and whether
    they are sent. A new address is unconfirmed; returns the user and, when the server can mail, the
    code to send to it (the caller mails it after the commit)."""
    email = (email or "").strip() or None
    if email is not None and (len(email) > MAX_EMAIL_LENGTH or not EMAIL_RE.fullmatch(email)):
        raise UserError("That is not an email address (like you@example.com).", 422)
    if enabled and email is None:
        raise UserError("Enter an email address to turn build emails on.", 422)
    user = session.get(User, user_id, with_for_update=True)  # one link a minute, also for concurrent requests
    code = None
    if email != user.email:
        user.email, user.email_verified_at, user.email_verification_hash = email, None, None
        if email is not None and mailer.configured():
            code = _new_verification_code(user)
    user.email_notifications = enabled
    return user, code


def resend_verification(session: Session, user_id: int) -> tuple[User, str]:
    """A new confirmation code for the user's unconfirmed address (the old link stops working)."""
    user = session.get(User, user_id, with_for_update=True)
    if user.email is None:
        raise UserError("Enter an email address first.", 409)
    if user.email_confirmed:
        raise UserError(f"{user.email} is confirmed already.", 409)
    if not mailer.configured():
        raise UserError(NO_MAIL_SERVER, 409)
    return user, _new_verification_code(user)


def _new_verification_code(user: User) -> str:
    if user.email_verification_sent_at is not None:
        elapsed = (utcnow() - as_utc(user.email_verification_sent_at)).total_seconds()
        if elapsed < RESEND_SECONDS:
            wait = int(RESEND_SECONDS - elapsed) + 1
            raise UserError(f"A confirmation link was sent moments ago; you can ask for another in {wait} s.", 429, retry_after=wait)
    code = secrets.token_urlsafe(32)
    user.email_verification_hash, user.email_verification_sent_at = sessions.digest(code), utcnow()
    return code


def user_to_verify(session: Session, code: str) -> User:
    """The user whose address this confirmation code was sent to; refuses a used, replaced or
    expired code."""
    user = session.exec(select(User).where(User.email_verification_hash == sessions.digest(code))).first() if code else None
    if user is None:
        raise UserError("This confirmation link does not work: it was used already, or a newer one replaced it.", 404)
    if _link_sent_at(user) is None:
        raise UserError(f"This confirmation link has expired (after {VERIFICATION_HOURS} hours); "
                           "ask for a new one on the Integrations page.", 410)
    return user


def confirm_email(session: Session, code: str) -> User:
    """Mark the address the code was sent to as confirmed; the code stops working."""
    user = user_to_verify(session, code)
    user.email_verified_at, user.email_verification_hash = utcnow(), None
    return user
