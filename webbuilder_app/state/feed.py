"""The signed-in user's queue and notifications, pushed live to every tab of that user.

All tabs of one user link a shared state to the token `user<id>`. Workers publish a change notice
on the user's Redis channel; `relay_changes` (a lifespan task of the backend) re-reads that user's
rows from the database into the shared state, and Reflex sends the delta to every linked tab. Nothing
polls on a timer, and a tab that reconnects re-reads the truth on load.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import reflex as rx
import redis.asyncio as aioredis
from reflex.istate.manager.token import BaseStateToken
from reflex.state import StateUpdate
from reflex_base.event import Event

from workers import jobs
from workers.config import settings
from workers.db import session_scope
from workers.events import CHANNEL_PREFIX

from .auth import AuthState
from .job import JobState

log = logging.getLogger(__name__)
COALESCE_SECONDS = 0.03
LOG_TAIL_IN_STATE = 200


def feed_token(user_id: int) -> str:
    return f"user{user_id}"  # shared tokens may not contain "_"


class FeedState(rx.SharedState):
    active_jobs: list[dict[str, Any]] = []
    recent_jobs: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    unread_count: int = 0
    loaded: bool = False

    def load(self, user_id: int) -> None:
        with session_scope() as session:
            queue = jobs.user_queue(session, user_id)
            notes = jobs.notifications(session, user_id)
        self.active_jobs = queue["activeJobs"]
        self.recent_jobs = queue["completedJobs"]
        self.notifications = notes["notifications"]
        self.unread_count = notes["unreadCount"]
        self.loaded = True

    @rx.var
    def active_count(self) -> int:
        return len(self.active_jobs)

    @rx.event
    async def link(self):
        """Attach this tab to its user's feed (on every page load, so a reconnect re-reads)."""
        auth = await self.get_state(AuthState)
        user_id = auth.current_user_id()
        if user_id is None:
            return rx.redirect("/login")
        feed = await self._link_to(feed_token(user_id))
        feed.load(user_id)
        toasts = await self.get_state(ToastState)
        toasts.mark_seen(feed.notifications)


class ToastState(rx.State):
    """Per tab: which notifications this tab has already announced."""

    _seen_id: int = 0

    def mark_seen(self, notifications: list[dict]) -> None:
        self._seen_id = max([self._seen_id, *(n["id"] for n in notifications)])

    @rx.event
    async def announce(self):
        auth = await self.get_state(AuthState)
        user_id = auth.current_user_id()
        if user_id is None:
            return
        with session_scope() as session:
            fresh = [n for n in jobs.notifications(session, user_id, limit=5)["notifications"] if n["id"] > self._seen_id]
        self.mark_seen(fresh)
        events = []
        for note in reversed(fresh):
            if note["type"] == "completed":
                events.append(rx.toast.success(note["title"], description=note["message"]))
            elif note["type"] == "failed":
                events.append(rx.toast.error(note["title"], description=note["message"]))
            else:
                events.append(rx.toast.info(note["title"], description=note["message"]))
        return events


async def _push(app: rx.App, user_id: int, changes: _Changes) -> None:
    async with app.modify_state(BaseStateToken(ident=feed_token(user_id), cls=FeedState)) as root:
        feed = await root.get_state(FeedState)
        feed.load(user_id)
        tabs = list(feed._linked_from)
    # Tab-private views (an open job page, toasts) are asked to re-read through their own handlers,
    # which check the tab's own sign-in again.
    wanted = [JobState.refresh_if(job_id) for job_id in changes.job_ids]
    if changes.notification:
        wanted.append(ToastState.announce)
    if not wanted:
        return
    update = StateUpdate(events=[event for spec in wanted for event in Event.from_event_type(spec)])
    for tab in tabs:
        try:
            await app.event_namespace.emit_update(update, tab)
        except Exception as exc:  # a closed tab
            log.debug("could not reach tab %s: %s", tab, exc)


async def relay_changes(app: rx.App) -> None:
    """Lifespan task: Redis change notices → the users' shared feeds. Reconnects if Redis drops."""
    url = settings().redis_url
    if not url:
        log.error("REDIS_URL is not set: live updates are off")
        return
    while True:
        try:
            client = aioredis.Redis.from_url(url)
            pubsub = client.pubsub()
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            async for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                pending: dict[int, _Changes] = {}
                _collect(message, pending)
                # Builds publish in bursts; one database read per user per burst is enough.
                while (more := await pubsub.get_message(timeout=COALESCE_SECONDS)) is not None:
                    if more["type"] == "pmessage":
                        _collect(more, pending)
                for user_id, changes in pending.items():
                    try:
                        await _push(app, user_id, changes)
                    except Exception:
                        log.exception("live update for user %s failed", user_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live updates lost Redis (%s); reconnecting", exc)
            await asyncio.sleep(1)


@dataclass
class _Changes:
    job_ids: set[int] = field(default_factory=set)
    notification: bool = False


def _collect(message: dict, pending: dict[int, _Changes]) -> None:
    try:
        data = json.loads(message["data"])
        user_id = int(data["userId"])
    except (ValueError, KeyError, TypeError):
        return
    changes = pending.setdefault(user_id, _Changes())
    if data.get("jobId"):
        changes.job_ids.add(int(data["jobId"]))
    changes.notification |= data.get("type") == "notification"
