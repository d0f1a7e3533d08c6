"""Plain-text emails about finished builds, sent over SMTP when WEBBUILDER_SMTP_HOST is set.

Only composing and sending one message lives here; who gets an email and the retries are decided in
workers/deliveries.py, the same way as for webhooks.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from workers.config import settings
from workers.runner import strip_ansi

TIMEOUT_SECONDS = 10.0
ERROR_LINES = 15


def configured() -> bool:
    return settings().smtp_host is not None


def compose(recipient: str, event: str, job: dict) -> EmailMessage:
    """The email for a `build.completed` or `build.failed` event; `job` is the event's job payload
    (workers.deliveries.job_payload)."""
    site = job["websiteName"]
    message = EmailMessage()
    message["From"] = settings().smtp_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings().smtp_from.rpartition("@")[2] or None)
    if event == "build.completed":
        message["Subject"] = f"{site} is live"
        body = [f"{site} is live at {job['previewUrl']}", "", f"Build {job['id']} completed."]
    else:
        message["Subject"] = f"{site} failed to build"
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
