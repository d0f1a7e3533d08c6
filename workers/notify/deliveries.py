"""Telling the outside world that a build completed or failed: webhooks and emails, with retries.

The database is the source of truth. `bell.notify` calls `record` in the very transaction that marks
a job completed or failed (the end of a build, a build-cache hit, a follower of an identical build,
the reaper giving up on a job), which writes one `webhook_deliveries` row per enabled webhook, plus
one for the user's email address when the server has SMTP and the user confirmed that address. After that transaction commits, a message
wakes the `send_delivery` actor for each row (Redis carries only the row id).

An attempt first claims the row with a conditional update (so two workers never send the same attempt),
then sends outside any transaction (a slow receiver holds no database lock and no build slot: the
actor has its own queue and thread, see supervise.worker_argv), then records the answer: delivered, or
pending again after the next wait of WEBBUILDER_WEBHOOK_RETRY_SECONDS, or failed after the last
attempt. Each worker process also sweeps pending rows whose wake never came (Redis lost it, the
worker died mid-attempt), so nothing is lost, only late.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import update
from sqlmodel import Session, col, desc, select

from workers.config import settings
from workers.notify import mailer, webhooks
from workers.store import broker
from workers.store.db import session_scope
from workers.store.models import BuildJob, DeliveryStatus, User, WebhookDelivery, WebhookEndpoint, Website, utcnow

log = logging.getLogger(__name__)

# notification kind (or "promoted": a deployment went live) → event
EVENTS = {"completed": "build.completed", "failed": "build.failed", "promoted": "deployment.promoted"}
EMAILED = ("build.completed", "build.failed")  # webhooks hear every event; email only of builds ending
PING = "ping"
WEBHOOK, EMAIL = "webhook", "email"
# An attempt's claim: longer than one attempt can take (HTTP 10 s; SMTP 10 s per exchange). A worker
# that dies mid-attempt leaves the row to the sweep once the claim has passed.
CLAIM_SECONDS = 60
# The sweep leaves a due row this long to the wake message sent for it.
SWEEP_GRACE_SECONDS = 10
SWEEP_BATCH = 100
_TO_WAKE = "webbuilder_deliveries_to_wake"  # Session.info key: rows to wake after the commit


def delay_after(attempts_made: int) -> float | None:
    """Seconds to wait after the `attempts_made`-th failed attempt; None when it was the last."""
    delays = settings().webhook_retry_seconds
    return delays[attempts_made - 1] if attempts_made <= len(delays) else None


# --- writing deliveries ----------------------------------------------------------------------------

def record(session: Session, job: BuildJob, kind: str) -> None:
    """In the transaction that ends `job` (`kind` is its notification's kind): a delivery row per
    place the user wants to hear about it. Woken after the commit; nothing is sent if it rolls back."""
    event = EVENTS.get(kind)
    if event is None:
        return
    now = utcnow()
    rows = [
        WebhookDelivery(user_id=job.user_id, job_id=job.id, endpoint_id=endpoint.id, channel=WEBHOOK, event=event,
                        target=endpoint.url, next_attempt_at=now)
        for endpoint in webhooks.endpoints(session, job.user_id)
        if endpoint.enabled
    ]
    user = session.get(User, job.user_id)
    if event in EMAILED and mailer.configured() and user.email_notifications and user.email_confirmed:
        rows.append(WebhookDelivery(user_id=job.user_id, job_id=job.id, channel=EMAIL, event=event, target=user.email, next_attempt_at=now))
    if not rows:
        return
    session.add_all(rows)
    session.flush()
    _wake_after_commit(session, [row.id for row in rows])


def _wake_after_commit(session: Session, delivery_ids: list[int]) -> None:
    """A worker must not look for a row before it is committed; Session events run us right after."""
    if _TO_WAKE not in session.info:
        session.info[_TO_WAKE] = []
        sa_event.listen(session, "after_commit", _wake_committed)
        sa_event.listen(session, "after_rollback", _forget_rolled_back)
    session.info[_TO_WAKE].extend(delivery_ids)


def _wake_committed(session: Session) -> None:
    delivery_ids, session.info[_TO_WAKE] = session.info[_TO_WAKE], []
    if delivery_ids:
        wake(delivery_ids)


def _forget_rolled_back(session: Session) -> None:
    session.info[_TO_WAKE] = []


def wake(delivery_ids: list[int], delay_seconds: float = 0) -> None:
    """Ask a worker to attempt these deliveries (after `delay_seconds`). Never raises: the sweep
    sends what no message asked for."""
    delay = int(delay_seconds * 1000) or None
    try:
        for delivery_id in delivery_ids:
            broker.send(broker.SEND_DELIVERY, delivery_id, delay_ms=delay)
    except Exception as exc:
        log.warning("could not wake a worker for deliveries %s (the sweep will send them): %s", delivery_ids, exc)


# --- attempts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None  # None: delivered
    final: bool = False  # no point retrying (the webhook was disabled, emails turned off)


@dataclass(frozen=True)
class _Claimed:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint | None
    user: User
    job: dict | None


def _claim(delivery_id: int) -> _Claimed | None:
    """Take a due pending delivery for one attempt, or None if it is not due, done, or another
    worker has it."""
    now = utcnow()
    table = WebhookDelivery.__table__
    with session_scope() as session:
        taken = session.connection().execute(
            update(table)
            .where(table.c.id == delivery_id, table.c.status == DeliveryStatus.PENDING, table.c.next_attempt_at <= now)
            .values(attempts=table.c.attempts + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        )
        if taken.rowcount != 1:
            return None
        delivery = session.get(WebhookDelivery, delivery_id)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery.endpoint_id else None
        job = session.get(BuildJob, delivery.job_id) if delivery.job_id else None
        payload = job_payload(job, session.get(Website, job.website_id)) if job else None
        return _Claimed(delivery, endpoint, session.get(User, delivery.user_id), payload)


def job_payload(job: BuildJob, website: Website) -> dict:
    """The job as webhooks and emails describe it."""
    return {
        "id": job.id,
        "websiteId": website.id,
        "websiteName": website.name,
        "status": job.status,
        "previewUrl": job.preview_url,
        "websiteUrl": settings().preview_url(website.slug) if website.slug else None,
        "live": website.live_job_id == job.id,
        "message": job.message,
        "error": job.error,
        "startedAt": job.started_at.isoformat() if job.started_at else None,
        "completedAt": job.completed_at.isoformat() if job.completed_at else None,
        "jobUrl": f"{settings().public_url.rstrip('/')}/jobs/{job.id}",
    }


def webhook_body(claimed: _Claimed) -> bytes:
    delivery = claimed.delivery
    body: dict = {"id": delivery.id, "event": delivery.event, "deliveredAt": utcnow().isoformat()}
    if claimed.job is not None:
        body["job"] = claimed.job
    else:
        body["webhook"] = {"id": delivery.endpoint_id, "url": delivery.target}
    return json.dumps(body, separators=(",", ":")).encode()


def _send(claimed: _Claimed) -> Outcome:
    delivery = claimed.delivery
    if delivery.channel == EMAIL:
        if not claimed.user.email_notifications:
            return Outcome(None, "email notifications were turned off", final=True)
        if claimed.user.email != delivery.target or not claimed.user.email_confirmed:
            return Outcome(None, "the address was changed after this email was due", final=True)
        if not mailer.configured():
            return Outcome(None, "this worker has no SMTP server configured (WEBBUILDER_SMTP_HOST)")
        try:
            mailer.send(mailer.compose(delivery.target, delivery.event, claimed.job))
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(getattr(exc, "smtp_code", None), f"SMTP: {exc}"[:500])
        return Outcome(250, None)
    endpoint = claimed.endpoint
    if endpoint is None or (not endpoint.enabled and delivery.event != PING):
        return Outcome(None, "the webhook was disabled", final=True)
    answer = webhooks.post(endpoint.url, endpoint.secret, delivery.event, delivery.id, webhook_body(claimed))
    return Outcome(answer.status_code, answer.error)


def attempt(delivery_id: int) -> None:
    """One attempt at a delivery, if it is due and nobody else has it; then record how it went and,
    after a failure, schedule the next attempt."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return
    try:
        outcome = _send(claimed)
    except Exception as exc:  # a bug must not leave the row claimed forever without a reason
        log.exception("delivery %s crashed", delivery_id)
        outcome = Outcome(None, f"internal error: {exc}"[:500])
    retry_in = _record(claimed.delivery, outcome)
    if retry_in is not None:
        wake([delivery_id], retry_in)


def _record(claimed: WebhookDelivery, outcome: Outcome) -> float | None:
    """Store the outcome; returns the seconds until the next attempt, if there is one."""
    retry_in = None
    with session_scope() as session:
        delivery = session.get(WebhookDelivery, claimed.id)
        if delivery is None or delivery.attempts != claimed.attempts:
            return None  # the webhook was removed, or this attempt overran its claim and lost it
        delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
        if outcome.error is None:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, utcnow(), None
            return None
        if not outcome.final and delivery.event != PING:  # a ping answers the user now; never retried
            retry_in = delay_after(delivery.attempts)
        if retry_in is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
    log.info("delivery %s attempt %s failed: %s", claimed.id, claimed.attempts, outcome.error)
    return retry_in


def sweep() -> int:
    """Attempt the pending deliveries whose wake never came; returns how many were due."""
    overdue = utcnow() - timedelta(seconds=SWEEP_GRACE_SECONDS)
    with session_scope() as session:
        due = session.exec(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING, col(WebhookDelivery.next_attempt_at) <= overdue)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(SWEEP_BATCH)
        ).all()
    for delivery_id in due:
        attempt(delivery_id)
    return len(due)


def send_test(user_id: int, endpoint_id: int) -> WebhookDelivery:
    """A `ping` to one of the user's webhooks, now (also when it is disabled); returns the recorded
    delivery, with the receiver's status code."""
    with session_scope() as session:
        endpoint = webhooks.owned_endpoint(session, user_id, endpoint_id)
        ping = WebhookDelivery(user_id=user_id, endpoint_id=endpoint.id, channel=WEBHOOK, event=PING, target=endpoint.url, next_attempt_at=utcnow())
        session.add(ping)
        session.flush()
        ping_id = ping.id
    attempt(ping_id)
    with session_scope() as session:
        return session.get(WebhookDelivery, ping_id)


# --- reading ---------------------------------------------------------------------------------------

def delivery_view(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id,
        "webhookId": delivery.endpoint_id,
        "channel": delivery.channel,
        "event": delivery.event,
        "jobId": delivery.job_id,
        "target": delivery.target,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "responseCode": delivery.last_status_code,
        "error": delivery.last_error,
        "nextAttemptAt": delivery.next_attempt_at.isoformat() if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at else None,
        "createdAt": delivery.created_at.isoformat(),
        "deliveredAt": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }


def recent(session: Session, user_id: int, endpoint_id: int | None = None, limit: int = 20) -> list[WebhookDelivery]:
    """The user's latest deliveries (of one webhook of theirs, with `endpoint_id`), newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.user_id == user_id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == webhooks.owned_endpoint(session, user_id, endpoint_id).id)
    return list(session.exec(query.order_by(desc(WebhookDelivery.created_at), desc(WebhookDelivery.id)).limit(limit)).all())
