"""Build-email settings: the address, on or off, and confirming the address (workers/accounts.py says
how). Confirmation links are mailed here, after the commit that stored their code's hash, so no
transaction waits on the mail server."""

from __future__ import annotations

import smtplib

from workers.accounts import users as accounts
from workers.errors import UserError
from workers.notify import mailer
from workers.store.db import session_scope
from workers.store.models import User


def notification_settings(user: User) -> dict:
    with session_scope() as session:
        return accounts.notification_settings(session.get(User, user.id))


def set_notification_settings(user: User, email: str | None, enabled: bool) -> dict:
    """Save the address and the switch; a new address gets a confirmation link (when the server can
    mail). Raises UserError 502 if the mail server refused the link (the settings stay saved)."""
    with session_scope() as session:
        account, code = accounts.set_notification_settings(session, user.id, email, enabled)
        view = accounts.notification_settings(account)
    if code is not None:
        _mail_link(account, code, "The address is saved, but the confirmation email could not be sent")
    return view


def resend_verification(user: User) -> dict:
    """A new confirmation link for the unconfirmed address; the previous one stops working."""
    with session_scope() as session:
        account, code = accounts.resend_verification(session, user.id)
        view = accounts.notification_settings(account)
    _mail_link(account, code, "The confirmation email could not be sent")
    return view


def _mail_link(account: User, code: str, failure: str) -> None:
    message = mailer.compose_verification(account.email, account.username, code, accounts.VERIFICATION_HOURS)
    try:
        mailer.send(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise UserError(f"{failure} ({exc}); try Resend in a minute.", 502) from exc


def address_to_confirm(code: str) -> str:
    """The address a confirmation code would confirm (the page shows it before its button); changes
    nothing. Raises UserError for a used, replaced or expired code."""
    with session_scope() as session:
        return accounts.user_to_verify(session, code).email


def confirm_email(code: str) -> str:
    """Confirm the address the code was mailed to (no sign-in needed: the code is the proof); returns
    that address."""
    with session_scope() as session:
        return accounts.confirm_email(session, code).email
