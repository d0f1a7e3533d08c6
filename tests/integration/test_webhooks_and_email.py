"""Webhooks and emails from a real worker process: real builds call a local receiver (retried after it
answers 500) and an SMTP server started by the test receives the emails."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import wait_for
from tests.helpers import job, make_user
from tests.mailbox import Mailbox, confirmation_code
from tests.projects import scripted_project, static_site, zip_folder
from tests.webhook_receiver import readme_verify
from webbuilder_app.api.app import create_api
from workers.accounts import sessions
from workers.config import settings
from workers.jobs import intake
from workers.notify import webhooks
from workers.store.db import session_scope
from workers.store.models import User, WebhookDelivery

pytestmark = pytest.mark.integration


def upload(user_id: int, folder, name: str) -> int:
    archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
    with open(archive, "rb") as stream:
        return intake.accept(user_id, name, [(archive.name, stream)]).job.id


def deliveries_of(job_id: int) -> dict[tuple[str, str], tuple[str, int]]:
    """(channel, event) → (status, attempts) of the job's deliveries."""
    with session_scope() as session:
        rows = session.exec(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).all()
        return {(row.channel, row.event): (row.status, row.attempts) for row in rows}


def confirm_address(mailbox: Mailbox, token: str, address: str) -> None:
    """Set the address for build emails and confirm it as its owner does: the link in the first
    email, whose page POSTs the code."""
    with TestClient(create_api()) as api:
        saved = api.put("/api/website-builder/user/settings", headers={"Authorization": f"Bearer {token}"},
                        json={"email": address, "emailNotifications": True})
        assert saved.status_code == 200, saved.text
        [link_email] = mailbox.wait_for(1)
        assert link_email["To"] == address
        confirmed = api.post("/api/website-builder/user/settings/verify", json={"code": confirmation_code(link_email)})
        assert confirmed.json() == {"success": True, "email": address}
    mailbox.messages.clear()


def test_builds_call_the_webhook_with_retries_and_send_emails(env, processes, receiver, mailbox, monkeypatch, tmp_path):
    for name, value in mailbox.smtp_env().items():
        monkeypatch.setenv(name, value)  # the web side mails the confirmation link
    processes.worker({**env, "WEBBUILDER_WEBHOOK_RETRY_SECONDS": "0.5,0.5", **mailbox.smtp_env()})
    verify = readme_verify()
    hook = receiver(500, 200)  # down for the first request, then back
    user = make_user()
    with session_scope() as session:
        _endpoint, secret = webhooks.create(session, user, hook.url)
        token = sessions.issue(session, session.get(User, user))[1]
    confirm_address(mailbox, token, "alice@example.com")

    good = upload(user, static_site(tmp_path / "good", "Hello from a webhook test"), "Landing page")
    # Built and live: a build.completed and a deployment.promoted webhook; the receiver's first
    # answer (to whichever came first) fails, and that one is tried again with the same id.
    hook.wait_for(3)
    wait_for(lambda: {key: status for key, (status, _) in deliveries_of(good).items()} == {
        ("webhook", "build.completed"): "delivered", ("webhook", "deployment.promoted"): "delivered", ("email", "build.completed"): "delivered",
    }, 15, what="the deliveries recorded")
    assert sorted(attempts for _, attempts in deliveries_of(good).values()) == [1, 1, 2]
    assert all(verify(secret, request.headers, request.body) for request in hook.received)
    first, retried = [request for request in hook.received if request.headers["X-Webbuilder-Event"] == hook.received[0].headers["X-Webbuilder-Event"]]
    assert first.headers["X-Webbuilder-Delivery"] == retried.headers["X-Webbuilder-Delivery"]
    by_event = {request.json["event"]: request.json for request in hook.received}
    body, promoted = by_event["build.completed"], by_event["deployment.promoted"]
    built = job(good)
    assert body["job"]["id"] == good and body["job"]["status"] == "completed"
    assert body["job"]["previewUrl"] == built.preview_url and body["job"]["websiteName"] == "Landing page"
    assert promoted["job"]["id"] == good and promoted["job"]["live"] is True
    assert promoted["job"]["websiteUrl"] == settings().preview_url("landing-page")
    [live] = mailbox.messages
    assert (live["Subject"], live["To"], live["From"]) == ("Landing page is live", "alice@example.com", "builds@webbuilder.test")
    text = live.get_content()
    assert settings().preview_url("landing-page") in text and built.preview_url in text and f"{settings().public_url}/jobs/{good}" in text

    broken = upload(user, scripted_project(tmp_path / "broken", "console.error('Cannot find module ./theme'); process.exit(3)\n"), "Shop")
    failed = hook.wait_for(4)[3]
    assert verify(secret, failed.headers, failed.body)
    assert failed.json["event"] == "build.failed" and failed.json["job"]["id"] == broken
    assert failed.json["job"]["error"] == job(broken).error and "Cannot find module ./theme" in failed.json["job"]["error"]
    wait_for(lambda: len(mailbox.messages) == 2, 15, what="the failure email")
    assert mailbox.messages[1]["Subject"] == "Shop failed to build"
    assert "Cannot find module ./theme" in mailbox.messages[1].get_content()


def test_an_unconfirmed_address_gets_no_build_email_but_webhooks_are_called(env, processes, receiver, mailbox, monkeypatch, tmp_path):
    for name, value in mailbox.smtp_env().items():
        monkeypatch.setenv(name, value)
    processes.worker({**env, **mailbox.smtp_env()})
    hook = receiver(200)
    user = make_user()
    with session_scope() as session:
        webhooks.create(session, user, hook.url)
        token = sessions.issue(session, session.get(User, user))[1]
    with TestClient(create_api()) as api:
        saved = api.put("/api/website-builder/user/settings", headers={"Authorization": f"Bearer {token}"},
                        json={"email": "someone-else@example.com", "emailNotifications": True})
    assert (saved.json()["emailVerified"], saved.json()["emailNotifications"]) == (False, True)
    [link_email] = mailbox.wait_for(1)  # the link nobody followed

    built = upload(user, static_site(tmp_path / "site", "Nobody confirmed"), "Landing page")
    hook.wait_for(1)
    wait_for(lambda: deliveries_of(built) == {("webhook", "build.completed"): ("delivered", 1), ("webhook", "deployment.promoted"): ("delivered", 1)},
             15, what="the webhooks' deliveries")
    assert job(built).status == "completed"
    assert mailbox.messages == [link_email]
