"""Which tabs show live feeds under which sign-in session, so that when a session ends (signed out
elsewhere, password changed, expired) the relay can cut those tabs off within seconds (feed.py,
`end_signed_out_tabs`) instead of waiting for the tab's next event. Kept in Redis: with several
backend processes, the tab may have linked on another one."""

from __future__ import annotations

import logging

import reflex as rx

from workers.config import settings
from workers.store.events import redis_client

from .auth import AuthState

SESSIONS_KEY = "webbuilder:sessions-with-tabs"
TABS_PREFIX = "webbuilder:session-tabs:"
log = logging.getLogger(__name__)


def remember(session_id: int, state_name: str, shared_token: str, tab: str) -> None:
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


def sessions() -> set[int]:
    return {int(value) for value in redis_client().smembers(SESSIONS_KEY)}


def take(session_id: int) -> list[tuple[str, str, str]]:
    """Forget an ended session's tabs and return them as (state name, shared token, tab)."""
    key = f"{TABS_PREFIX}{session_id}"
    pipe = redis_client().pipeline()
    pipe.smembers(key)
    pipe.delete(key)
    pipe.srem(SESSIONS_KEY, session_id)
    members, _, _ = pipe.execute()
    return [tuple(member.decode().split("|", 2)) for member in members]


async def link_for_session(feed: rx.SharedState, shared_token: str) -> rx.SharedState:
    """Link this tab's `feed` to `shared_token` (the caller checked the user may see it), noting the
    tab under its session."""
    linked = await feed._link_to(shared_token)
    session_id = (await feed.get_state(AuthState))._session_id()
    if session_id is not None:
        remember(session_id, type(feed).get_full_name(), shared_token, feed.router.session.client_token)
    return linked
