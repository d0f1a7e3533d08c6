"""Live feeds, for the web app's pages that show them: the unguessable names of the shared feeds, the
notice that a tab started watching one, and which sign-in sessions have tabs watching, so that the
tabs of a session that ends can be cut off (the web app's relay, `end_signed_out_tabs`).

The session-tab record is kept in Redis: with several backend processes, a tab may have linked on
another one than the process that cuts it off.
"""

from __future__ import annotations

import logging

from workers.config import settings
from workers.store import events
from workers.store.events import redis_client
from workers.store.models import User
from workers.store.server_secret import keyed_name

SESSIONS_KEY = "webbuilder:sessions-with-tabs"
TABS_PREFIX = "webbuilder:session-tabs:"
log = logging.getLogger(__name__)


def feed_name(user_id: int) -> str:
    """The name of the user's shared feed (queue and notifications): nobody can name another's."""
    return keyed_name("user-feed", user_id)


def job_feed_name(job_id: int) -> str:
    """The name of the job's shared feed."""
    return keyed_name("job-feed", job_id)


def watching(user: User, job_id: int | None = None) -> None:
    """A tab of `user`'s started showing their feed (or their job `job_id`): the relay feeds it."""
    events.watching(user.id, job_id)


def remember_session_tab(session_id: int, state_name: str, shared_token: str, tab: str) -> None:
    """The tab `tab` linked the shared state (`state_name`, `shared_token`) under `session_id`."""
    key = f"{TABS_PREFIX}{session_id}"
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.sadd(SESSIONS_KEY, session_id)
        pipe.sadd(key, f"{state_name}|{shared_token}|{tab}")
        pipe.expire(key, int(settings().session_days * 86400) + 3600)
        pipe.execute()
    except Exception as exc:  # the tab is still cut off at its next event, which re-checks the session
        log.warning("could not record the tab of session %s: %s", session_id, exc)


def sessions_with_tabs() -> set[int]:
    return {int(value) for value in redis_client().smembers(SESSIONS_KEY)}


def take_session_tabs(session_id: int) -> list[tuple[str, str, str]]:
    """Forget an ended session's tabs and return them as (state name, shared token, tab)."""
    key = f"{TABS_PREFIX}{session_id}"
    pipe = redis_client().pipeline()
    pipe.smembers(key)
    pipe.delete(key)
    pipe.srem(SESSIONS_KEY, session_id)
    members, _, _ = pipe.execute()
    return [tuple(member.decode().split("|", 2)) for member in members]
