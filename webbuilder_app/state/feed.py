"""The signed-in user's queue and notifications, pushed live to every tab of that user.

All tabs of one user link a shared state to the token `user<id>`, and a tab showing a job links
`JobFeedState` to `job<id>`. Workers publish a change notice on the user's Redis channel;
`relay_changes` (a lifespan task of the backend) re-reads that user's rows, and the changed jobs,
from the database once into the shared states, and Reflex sends the deltas to every linked tab.
Toasts are the one per-tab part: each tab is asked to announce what it has not shown yet. Nothing
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
from .changes import assign_changed
from .job import JobFeedState, job_token
from .notifications import NotificationState

log = logging.getLogger(__name__)
COALESCE_SECONDS = 0.03


def feed_token(user_id: int) -> str:
    return f"user{user_id}"  # shared tokens may not contain "_"


class FeedState(rx.SharedState):
    active_jobs: list[dict[str, Any]] = []
    recent_jobs: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    unread_count: int = 0

    def load(self, user_id: int) -> None:
        with session_scope() as session:
            queue = jobs.user_queue(session, user_id)
            notes = jobs.notifications(session, user_id)
        assign_changed(
            self,
            active_jobs=queue["activeJobs"],
            recent_jobs=queue["completedJobs"],
            notifications=notes["notifications"],
            unread_count=notes["unreadCount"],
        )

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
        announcer = await self.get_state(NotificationState)
        announcer.mark_seen(feed.notifications)


async def _push(app: rx.App, user_id: int, changes: _Changes) -> None:
    """Re-read what changed once, into the shared states; Reflex fans the deltas out to the tabs."""
    async with app.modify_state(BaseStateToken(ident=feed_token(user_id), cls=FeedState)) as root:
        feed = await root.get_state(FeedState)
        tabs = list(feed._linked_from)
        if tabs:  # nobody watching: a tab that opens later reads the database when it links
            feed.load(user_id)
    for job_id in changes.job_ids:
        async with app.modify_state(BaseStateToken(ident=job_token(job_id), cls=JobFeedState)) as root:
            job_feed = await root.get_state(JobFeedState)
            if job_feed._linked_from:  # someone has this job open
                job_feed.load(user_id, job_id)
    if not changes.notification:
        return
    # Toasts are per tab (each tab announces what it has not shown yet), so each tab is asked.
    update = StateUpdate(events=Event.from_event_type(NotificationState.announce))
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
