"""Webhooks and emails from a real worker process: real builds call a local receiver (retried after it
answers 500) and an SMTP server started by the test receives the emails."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlmodel import select

from tests.conftest import free_port, wait_for
from tests.helpers import job, make_user
from tests.projects import scripted_project, static_site, zip_folder
from tests.webhook_receiver import readme_verify
from workers import accounts, intake, webhooks
from workers.config import settings
from workers.db import session_scope
from workers.models import WebhookDelivery

pytestmark = pytest.mark.integration


class Mailbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


def upload(user_id: int, folder, name: str) -> int:
    archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
    with open(archive, "rb") as stream:
        return intake.accept(user_id, name, [(archive.name, stream)]).job.id


def deliveries_of(job_id: int) -> dict[str, tuple[str, int]]:
    """channel → (status, attempts) of the job's deliveries."""
    with session_scope() as session:
        rows = session.exec(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).all()
        return {row.channel: (row.status, row.attempts) for row in rows}


def test_builds_call_the_webhook_with_retries_and_send_emails(env, processes, receiver, smtp_server, tmp_path):
    smtp_port, mailbox = smtp_server
    processes.worker({**env, "WEBBUILDER_WEBHOOK_RETRY_SECONDS": "0.5,0.5", "WEBBUILDER_SMTP_HOST": "127.0.0.1",
                      "WEBBUILDER_SMTP_PORT": str(smtp_port), "WEBBUILDER_SMTP_FROM": "builds@webbuilder.test"})
    verify = readme_verify()
    hook = receiver(500, 200)  # down for the first request, then back
    user = make_user()
    with session_scope() as session:
        _endpoint, secret = webhooks.create(session, user, hook.url)
        accounts.set_notification_settings(session, user, "alice@example.com", True)

    good = upload(user, static_site(tmp_path / "good", "Hello from a webhook test"), "Landing page")
    first, retried = hook.wait_for(2)
    assert all(verify(secret, request.headers, request.body) for request in (first, retried))
    assert first.headers["X-Webbuilder-Delivery"] == retried.headers["X-Webbuilder-Delivery"]
    body = retried.json
    built = job(good)
    assert (body["event"], retried.headers["X-Webbuilder-Event"]) == ("build.completed", "build.completed")
    assert body["job"]["id"] == good and body["job"]["status"] == "completed"
    assert body["job"]["previewUrl"] == built.preview_url and body["job"]["websiteName"] == "Landing page"
    wait_for(lambda: deliveries_of(good) == {"webhook": ("delivered", 2), "email": ("delivered", 1)}, 15, what="both deliveries recorded")
    [live] = mailbox.messages
    assert (live["Subject"], live["To"], live["From"]) == ("Landing page is live", "alice@example.com", "builds@webbuilder.test")
    text = live.get_content()
    assert built.preview_url in text and f"{settings().public_url}/jobs/{good}" in text

    broken = upload(user, scripted_project(tmp_path / "broken", "console.error('Cannot find module ./theme'); process.exit(3)\n"), "Shop")
    failed = hook.wait_for(3)[2]
    assert verify(secret, failed.headers, failed.body)
    assert failed.json["event"] == "build.failed" and failed.json["job"]["id"] == broken
    assert failed.json["job"]["error"] == job(broken).error and "Cannot find module ./theme" in failed.json["job"]["error"]
    wait_for(lambda: len(mailbox.messages) == 2, 15, what="the failure email")
    assert mailbox.messages[1]["Subject"] == "Shop failed to build"
    assert "Cannot find module ./theme" in mailbox.messages[1].get_content()
