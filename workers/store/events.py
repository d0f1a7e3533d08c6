"""Change notices on Redis pub/sub, typed, and sent after the transaction that made the change.

A notice names only what changed (`Change`, user, job); listeners read the truth from the database.
Code that changes rows registers its notices on the session (`after_commit`); they go out right after
the commit (none after a rollback), from `publish`, the one place that sends. Losing a notice (Redis
down) never loses data: pages re-read the database when they reconnect.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from enum import StrEnum

import redis
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from workers.config import settings

CHANNEL_PREFIX = "webbuilder:user:"
STREAM_PREFIX = "webbuilder:events:user:"
STREAM_MAXLEN = 1000  # per user; enough for an API client to resume after a short disconnect
_PENDING = "webbuilder_notices"  # Session.info key: notices to send after the commit
log = logging.getLogger(__name__)


class Change(StrEnum):
    JOB = "job_update"  # one job's status, progress, steps or log
    QUEUE = "queue"  # the user's places in the queue moved (someone else's job went ahead or left)
    NOTIFICATION = "notification"  # a new notification: pages announce it
    NOTIFICATIONS_READ = "notification_read"  # read marks changed: pages refresh the bell quietly
    WATCH = "watch"  # a tab started showing a feed (pub/sub only: for the web app's relay)
    WEBSITE = "website"  # a website's live deployment, address or settings changed


SITES_CHANNEL = "webbuilder:sites"  # every website change, for each web process's address cache


@dataclass(frozen=True)
class Notice:
    change: Change
    user_id: int
    job_id: int | None = None
    website_id: int | None = None


def user_channel(user_id: int) -> str:
    """One channel per user, so a page is only woken by its own user's changes."""
    return f"{CHANNEL_PREFIX}{user_id}"


@functools.cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    url = settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set (the run command starts an embedded Valkey and sets it)")
    return _client_for(url)


def user_stream(user_id: int) -> str:
    """A capped Redis stream of the same notices, whose entry ids let the SSE API resume."""
    return f"{STREAM_PREFIX}{user_id}"


def watching(user_id: int, job_id: int | None = None) -> None:
    """A tab started showing this user's feed (or this job): tells the web app's relay, which skips
    the feeds nobody watches. Pub/sub only: API streams don't care."""
    message = json.dumps({"type": Change.WATCH, "userId": user_id, "jobId": job_id})
    try:
        redis_client().publish(user_channel(user_id), message)
    except Exception as exc:  # the tab read the database when it linked; it only misses live updates
        log.warning("could not announce a watcher of user %s: %s", user_id, exc)


def after_commit(session: Session, *notices: Notice) -> None:
    """Send `notices` once `session` commits; forget them if it rolls back."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        sa_event.listen(session, "after_commit", _publish_committed)
        sa_event.listen(session, "after_rollback", _forget)
    pending.extend(notices)


def _publish_committed(session: Session) -> None:
    notices, session.info[_PENDING] = session.info[_PENDING], []
    if notices:  # each distinct notice once; the jobs' changes before the bell's announcement of them
        publish(*sorted(dict.fromkeys(notices), key=lambda notice: notice.change == Change.NOTIFICATION))


def _forget(session: Session) -> None:
    session.info[_PENDING] = []


def publish(*notices: Notice) -> None:
    """Tell listening pages (pub/sub) and API streams (XADD) what changed, in one round trip. For
    changes no transaction of ours holds; rows changed in a session use `after_commit`. Never raises."""
    try:
        pipe = redis_client().pipeline(transaction=False)
        for notice in notices:
            message = json.dumps({"type": notice.change, "userId": notice.user_id, "jobId": notice.job_id, "websiteId": notice.website_id})
            pipe.publish(user_channel(notice.user_id), message)
            if notice.change == Change.WEBSITE:
                pipe.publish(SITES_CHANNEL, message)
            pipe.xadd(user_stream(notice.user_id), {"data": message}, maxlen=STREAM_MAXLEN, approximate=True)
        pipe.execute()
    except Exception as exc:  # the database already holds the change
        log.warning("could not publish %s: %s", ", ".join(f"{n.change} of job {n.job_id}" for n in notices), exc)
