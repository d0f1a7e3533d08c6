"""Webhooks and email deliveries, driven in this process: signatures as receivers check them, the
retry schedule, a delivery for every way a job completes or fails, refused URLs, the sweep."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from tests.helpers import build_next, fail_by_reaper, job, make_user, queue_project
from tests.projects import static_site
from tests.webhook_receiver import readme_verify
from workers.accounts import users as accounts
from workers.config import settings
from workers.errors import UserError
from workers.notify import deliveries, webhooks
from workers.store.db import session_scope
from workers.store.models import WebhookDelivery, utcnow


def add_webhook(user_id: int, url: str, enabled: bool = True) -> tuple[int, str]:
    with session_scope() as session:
        endpoint, secret = webhooks.create(session, user_id, url, enabled)
        return endpoint.id, secret


def rows(**where) -> list[WebhookDelivery]:
    with session_scope() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        for name, value in where.items():
            query = query.where(getattr(WebhookDelivery, name) == value)
        return list(session.exec(query).all())


def make_due(delivery_id: int, seconds_ago: float = 0) -> None:
    """Let the clock run to the delivery's next attempt (and past it)."""
    with session_scope() as session:
        session.exec(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                     .values(next_attempt_at=utcnow() - timedelta(seconds=seconds_ago)))


def test_a_ping_is_signed_as_the_readme_verifies_it(env, receiver):
    verify = readme_verify()
    hook = receiver(200)
    user = make_user()
    endpoint_id, secret = add_webhook(user, hook.url)

    sent = deliveries.send_test(user, endpoint_id)
    assert (sent.status, sent.attempts, sent.last_status_code) == ("delivered", 1, 200)
    [request] = hook.received
    assert request.headers["X-Webbuilder-Event"] == "ping"
    assert request.headers["X-Webbuilder-Delivery"] == str(sent.id) == str(request.json["id"])
    assert request.json["webhook"] == {"id": endpoint_id, "url": hook.url}
    assert verify(secret, request.headers, request.body)

    # A receiver that checks refuses a changed body, another secret, and a replayed old request.
    assert not verify(secret, request.headers, request.body.replace(b"ping", b"pong"))
    assert not verify("whsec_someone-else", request.headers, request.body)
    old = str(int(time.time()) - 3600)
    replayed = {"X-Webbuilder-Timestamp": old, "X-Webbuilder-Signature": webhooks.signature(secret, old, request.body)}
    assert not verify(secret, replayed, request.body)


def test_failed_attempts_are_retried_on_schedule_then_marked_failed(env, receiver, monkeypatch, tmp_path):
    monkeypatch.setenv("WEBBUILDER_WEBHOOK_RETRY_SECONDS", "10,60")
    assert [deliveries.delay_after(n) for n in (1, 2, 3)] == [10, 60, None]
    hook = receiver(500, 503, 302)
    user = make_user()
    add_webhook(user, hook.url)
    job_id = queue_project(user, static_site(tmp_path / "site"))
    fail_by_reaper(job_id)
    [delivery] = rows(job_id=job_id)

    deliveries.attempt(delivery.id)
    first = rows(id=delivery.id)[0]
    assert (first.status, first.attempts, first.last_status_code, first.last_error) == ("pending", 1, 500, "answered 500")
    assert timedelta(seconds=9) < first.next_attempt_at - utcnow() <= timedelta(seconds=10)

    deliveries.attempt(delivery.id)  # not due yet: nothing is sent
    assert len(hook.received) == 1

    make_due(delivery.id)
    deliveries.attempt(delivery.id)
    second = rows(id=delivery.id)[0]
    assert (second.status, second.attempts, second.last_status_code) == ("pending", 2, 503)
    assert timedelta(seconds=59) < second.next_attempt_at - utcnow() <= timedelta(seconds=60)

    make_due(delivery.id)
    deliveries.attempt(delivery.id)
    last = rows(id=delivery.id)[0]
    assert (last.status, last.attempts, last.next_attempt_at) == ("failed", 3, None)
    assert (last.last_status_code, last.last_error) == (302, "answered 302 (redirects are not followed)")
    assert len(hook.received) == 3
    assert {r.headers["X-Webbuilder-Delivery"] for r in hook.received} == {str(delivery.id)}  # one id: receivers dedupe


def test_every_way_a_job_ends_records_its_deliveries(env, receiver, monkeypatch, tmp_path):
    monkeypatch.setenv("WEBBUILDER_SMTP_HOST", "127.0.0.1")
    user, quiet = make_user("alice"), make_user("bob")
    hook = receiver()
    add_webhook(user, hook.url)
    add_webhook(user, hook.url + "/paused", enabled=False)
    with session_scope() as session:
        _user, code = accounts.set_notification_settings(session, user, "alice@example.com", True)
        accounts.confirm_email(session, code)  # as the link mailed to the address does

    leader = queue_project(user, static_site(tmp_path / "a", "twin"))
    follower = queue_project(user, static_site(tmp_path / "b", "twin"))
    assert rows() == []  # nothing is sent for queued jobs
    build_next()  # the leader completes in the pipeline, its follower with it
    cache_hit = queue_project(user, static_site(tmp_path / "c", "twin"))
    assert job(cache_hit).build_cache == "hit"
    reaped = queue_project(user, static_site(tmp_path / "d", "dies"))
    fail_by_reaper(reaped)
    unheard = queue_project(quiet, static_site(tmp_path / "e", "bob's"))  # no webhook, no email
    fail_by_reaper(unheard)

    recorded = {(r.job_id, r.channel, r.event, r.target) for r in rows()}
    expected = set()
    for job_id, event in ((leader, "build.completed"), (follower, "build.completed"), (cache_hit, "build.completed"),
                          (reaped, "build.failed")):
        expected |= {(job_id, "webhook", event, hook.url), (job_id, "email", event, "alice@example.com")}
    for went_live in (leader, follower, cache_hit):  # each the first deployment of its website: webhooks only
        expected.add((went_live, "webhook", "deployment.promoted", hook.url))
    assert recorded == expected
    assert {r.status for r in rows()} == {"pending"}


def test_urls_other_than_http_are_refused(env):
    user = make_user()
    for url in ("ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "example.com/hook",
                "http://", "https://exa mple.com/", "http://example.com:port/", "gopher://127.0.0.1:6379/_FLUSHALL"):
        with pytest.raises(UserError) as refused:
            add_webhook(user, url)
        assert refused.value.status == 422, url
    with session_scope() as session:
        assert webhooks.endpoints(session, user) == []
    endpoint_id, secret = add_webhook(user, "  https://example.com/hooks/webbuilder ")
    with session_scope() as session:
        assert [e.url for e in webhooks.endpoints(session, user)] == ["https://example.com/hooks/webbuilder"]
    assert secret.startswith("whsec_") and len(secret) > 40


def test_the_sweep_sends_a_delivery_whose_wake_was_lost(env, receiver, tmp_path):
    verify = readme_verify()
    hook = receiver()
    user = make_user()
    _endpoint, secret = add_webhook(user, hook.url)
    job_id = queue_project(user, static_site(tmp_path / "site", "swept"))
    build_next()
    delivery, promoted = rows(job_id=job_id)  # built, and live (auto-publish)
    assert (delivery.event, promoted.event) == ("build.completed", "deployment.promoted")

    assert deliveries.sweep() == 0  # just due: left to the message that was sent for it
    make_due(delivery.id, seconds_ago=deliveries.SWEEP_GRACE_SECONDS + 1)  # ...which Redis lost
    assert deliveries.sweep() == 1
    [request] = hook.received
    assert verify(secret, request.headers, request.body)
    body = request.json
    finished = job(job_id)
    assert (body["event"], body["id"]) == ("build.completed", delivery.id)
    assert body["job"] == {
        "id": job_id, "websiteId": finished.website_id, "websiteName": "Site", "status": "completed",
        "previewUrl": finished.preview_url, "websiteUrl": f"http://site.localhost:{settings().preview_port}/", "live": True,
        "message": None, "error": None, "startedAt": finished.started_at.isoformat(),
        "completedAt": finished.completed_at.isoformat(), "jobUrl": f"{settings().public_url}/jobs/{job_id}",
    }
    assert rows(id=delivery.id)[0].status == "delivered"
