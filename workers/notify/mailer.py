"""Plain-text emails, sent over SMTP when WEBBUILDER_SMTP_HOST is set: about finished builds, and the
link that confirms an address before any of those go to it.

Only composing and sending one message lives here; who gets a build email and the retries are decided
in workers/deliveries.py, the same way as for webhooks; confirming addresses in workers/accounts.py.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from workers.config import VERIFY_EMAIL_PATH, settings
from workers.text import strip_ansi

TIMEOUT_SECONDS = 10.0
ERROR_LINES = 15


def configured() -> bool:
    return settings().smtp_host is not None


def _message(recipient: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings().smtp_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings().smtp_from.rpartition("@")[2] or None)
    return message


def verification_link(code: str) -> str:
    return f"{settings().public_url.rstrip('/')}{VERIFY_EMAIL_PATH}?code={code}"


def compose_verification(recipient: str, username: str, code: str, valid_hours: int) -> EmailMessage:
    """The email with the link that confirms `recipient` as `username`'s address for build emails."""
    message = _message(recipient, "Confirm your address for webbuilder build emails")
    message.set_content("\n".join([
        f"The webbuilder account {username} asked for emails about its builds to go to this address.",
        "",
        "To confirm, open this link and press the Confirm button on the page:",
        "",
        f"    {verification_link(code)}",
        "",
        f"The link works once, for {valid_hours} hours. If you did not ask for this, ignore this email:",
        "nothing more is sent to you unless the address is confirmed.",
    ]) + "\n")
    return message


def compose(recipient: str, event: str, job: dict) -> EmailMessage:
    """The email for a `build.completed` or `build.failed` event; `job` is the event's job payload
    (workers.notify.deliveries.job_payload)."""
    site = job["websiteName"]
    if event == "build.completed" and job.get("live"):
        message = _message(recipient, f"{site} is live")
        body = [f"{site} is live at {job['websiteUrl']}", "", f"Build {job['id']} completed; this deployment's own address: {job['previewUrl']}"]
    elif event == "build.completed":
        message = _message(recipient, f"{site} is ready to promote")
        body = [f"Build {job['id']} of {site} completed at {job['previewUrl']}; it is not live yet (promote it on its website's page)."]
    else:
        message = _message(recipient, f"{site} failed to build")
        error = strip_ansi(job["error"] or "the build failed").splitlines()
        shown = error[:ERROR_LINES] + (["…"] if len(error) > ERROR_LINES else [])
        body = [f"Build {job['id']} of {site} failed:", "", *("    " + line for line in shown)]
    body += ["", f"Details and the whole log: {job['jobUrl']}", "", "-- ", "webbuilder. Turn these emails off on the Integrations page."]
    message.set_content("\n".join(body) + "\n")
    return message


def send(message: EmailMessage) -> None:
    """Hand the message to the configured SMTP server; raises smtplib.SMTPException or OSError."""
    cfg = settings()
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password or "")
        smtp.send_message(message)
