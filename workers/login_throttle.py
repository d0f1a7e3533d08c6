"""Sign-in throttling: a sliding window of failed attempts per username and client, kept in Redis.

After MAX_FAILURES failures within WINDOW_SECONDS for one username from one client address, further
attempts are refused (HTTP 429 with Retry-After) until the oldest failure leaves the window. Keying
by username *and* client means an attacker elsewhere cannot lock a user out of their own machine.
Redis is a helper here, not the truth: if it is unreachable, sign-in still works (logged).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid

from workers.events import redis_client

MAX_FAILURES = 10
WINDOW_SECONDS = 300
KEY_PREFIX = "webbuilder:login-failures:"
log = logging.getLogger(__name__)


def _key(username: str, client: str) -> str:
    # Usernames are case-insensitive for throttling, so "Alice" and "alice" share a window.
    digest = hashlib.sha256(f"{username.lower()}\0{client}".encode()).hexdigest()[:32]
    return KEY_PREFIX + digest


def seconds_blocked(username: str, client: str) -> int:
    """0 if a sign-in may be tried now, else how many seconds until it may."""
    key, now = _key(username, client), time.time()
    try:
        pipe = redis_client().pipeline()
        pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.zcard(key)
        _, oldest, count = pipe.execute()
    except Exception as exc:
        log.warning("login throttle unavailable (%s); not throttling", exc)
        return 0
    if count < MAX_FAILURES or not oldest:
        return 0
    return max(1, math.ceil(oldest[0][1] + WINDOW_SECONDS - now))


def record_failure(username: str, client: str) -> None:
    key, now = _key(username, client), time.time()
    try:
        pipe = redis_client().pipeline()
        pipe.zadd(key, {uuid.uuid4().hex: now})
        pipe.expire(key, WINDOW_SECONDS)
        pipe.execute()
    except Exception as exc:
        log.warning("could not record a failed sign-in (%s)", exc)


def forget(username: str, client: str) -> None:
    """A successful sign-in clears the window."""
    try:
        redis_client().delete(_key(username, client))
    except Exception as exc:
        log.warning("could not clear failed sign-ins (%s)", exc)
