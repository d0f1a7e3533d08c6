"""The signed-in user's queue and notifications, pushed live to every tab of that user.

Every tab of a user links `NotificationFeedState` (the bell) to the user's feed token, a tab on the
home page also links `QueueFeedState` and `WebsitesFeedState` to it, a tab showing a job links
`JobFeedState` (job.py) to the job's and one showing a website `WebsiteFeedState` (websites.py) to the
website's; each tab thus receives only what it shows. Feed tokens are HMACs under the server's secret
(workers/services/live.py), so nobody can name another user's feed, and a tab links only after its
own sign-in was checked. The relay (webbuilder_app/relay) re-reads these states from the database
when a change notice comes and sends the result to the linked tabs (in one backend process, one
delta for all of them: so no per-tab state may compute anything from these shared ones). A tab that
reconnects re-reads the truth on load.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from workers.services import builds, live, notifications, websites
from workers.store.models import User

from .auth import AuthState
from .changes import assign_changed
from .notifications import NotificationState
from .session_tabs import link_for_session


def feed_token(user_id: int) -> str:
    return live.feed_name(user_id)


async def _link_to_user_feed(feed: rx.SharedState) -> rx.SharedState | None:
    """Link this tab's `feed` to its user's shared copy and read it (on every page load, so a
    reconnect re-reads); None when nobody is signed in."""
    user = (await feed.get_state(AuthState))._signed_in_user()
    if user is None:
        return None
    linked = await link_for_session(feed, feed_token(user.id))
    linked._load(user)
    live.watching(user)
    return linked


class QueueFeedState(rx.SharedState):
    """The user's queue, for the queue page only: a job page does not receive (and re-render for)
    every change of every job."""

    active_jobs: list[dict[str, Any]] = []
    recent_jobs: list[dict[str, Any]] = []

    def _load(self, user: User) -> None:
        queue = builds.queue(user)
        assign_changed(self, active_jobs=queue["activeJobs"], recent_jobs=queue["completedJobs"])

    @rx.var
    def active_count(self) -> int:
        return len(self.active_jobs)

    @rx.event
    async def link(self):
        if await _link_to_user_feed(self) is None:
            return rx.redirect("/login")


class WebsitesFeedState(rx.SharedState):
    """The user's websites, for the home page's cards: re-read when a job or a website changes."""

    websites: list[dict[str, Any]] = []

    def _load(self, user: User) -> None:
        assign_changed(self, websites=websites.websites(user))

    @rx.event
    async def link(self):
        if await _link_to_user_feed(self) is None:
            return rx.redirect("/login")


class NotificationFeedState(rx.SharedState):
    """The user's notifications, for the bell on every page."""

    notifications: list[dict[str, Any]] = []
    unread_count: int = 0

    def _load(self, user: User) -> None:
        notes = notifications.recent(user)
        assign_changed(self, notifications=notes["notifications"], unread_count=notes["unreadCount"])

    @rx.event
    async def link(self):
        feed = await _link_to_user_feed(self)
        if feed is None:
            return rx.redirect("/login")
        announcer = await self.get_state(NotificationState)
        announcer._mark_seen(feed.notifications)
