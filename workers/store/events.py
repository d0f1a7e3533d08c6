"""Change notices on Redis pub/sub.

A notice names only what changed (user, job); listeners read the truth from the database. Losing a
notice (Redis down) never loses data: pages re-read the database when they reconnect.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable

import redis

from workers.config import settings

CHANNEL_PREFIX = "webbuilder:user:"
STREAM_PREFIX = "webbuilder:events:user:"
STREAM_MAXLEN = 1000  # per user; enough for an API client to resume after a short disconnect
log = logging.getLogger(__name__)


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
    the feeds nobody watches (webbuilder_app/state/feed.py). Pub/sub only: API streams don't care."""
    try:
        redis_client().publish(user_channel(user_id), json.dumps({"type": "watch", "userId": user_id, "jobId": job_id}))
    except Exception as exc:  # the tab read the database when it linked; it only misses live updates
        log.warning("could not announce a watcher of user %s: %s", user_id, exc)


def publish(kind: str, user_id: int, job_id: int | None = None, **extra) -> None:
    """Tell listening pages (pub/sub) and API streams (XADD) that something of `user_id` changed.
    Never raises."""
    publish_many([(kind, user_id, job_id)], **extra)


def publish_many(notices: Iterable[tuple[str, int, int | None]], **extra) -> None:
    """Several (kind, user_id, job_id) notices in one round trip: a new upload can move the queue of
    every waiting user. Never raises."""
    notices = list(notices)
    try:
        pipe = redis_client().pipeline(transaction=False)
        for kind, user_id, job_id in notices:
            message = json.dumps({"type": kind, "userId": user_id, "jobId": job_id, **extra})
            pipe.publish(user_channel(user_id), message)
            pipe.xadd(user_stream(user_id), {"data": message}, maxlen=STREAM_MAXLEN, approximate=True)
        pipe.execute()
    except Exception as exc:  # the database already holds the change
        log.warning("could not publish %s: %s", ", ".join(f"{kind} of job {job_id}" for kind, _, job_id in notices), exc)
