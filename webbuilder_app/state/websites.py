"""The website page: its live address, its deployments, promote and roll back, redeploy, settings
and deletion, refreshed when one of its deployments or its settings change.

Like a job page (job.py): every tab showing the website links `WebsiteFeedState` to the website's
shared copy, after `WebsiteState.load` checked the signed-in user owns it, and the relay
(webbuilder_app/relay) re-reads it once per change for all of them. Every handler acts as the tab's
signed-in user on the website of the page's address, which the services check is theirs.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from workers.errors import UserError
from workers.services import builds, live, websites
from workers.store.models import User

from .auth import AuthState
from .changes import assign_changed
from .feed import feed_token
from .session_tabs import link_for_session

PAGE_PREFIX = "/websites/"


def website_token(user_id: int, website_id: int) -> str:
    """The shared name of one website's page: its owner's unguessable feed name and the website's id
    (so nobody can name it without the server's secret)."""
    return f"{feed_token(user_id)}w{website_id}"


def read_website(user: User, website_id: int) -> dict | None:
    """The website with its deployments, as its owner sees it; None for someone else's or a deleted one."""
    try:
        return websites.website(user, website_id)
    except UserError:
        return None


class WebsiteFeedState(rx.SharedState):
    """One website's page, shared by its owner's tabs showing it. The relay re-reads it on each
    change of the website or of one of its deployments."""

    website: dict[str, Any] = {}
    deployments: list[dict[str, Any]] = []
    deleted: bool = False  # deleted while a tab showed it

    def _load(self, user: User, website_id: int) -> bool:
        detail = read_website(user, website_id)
        if detail is None:
            assign_changed(self, deleted=True)
            return False
        self._show(detail)
        return True

    def _show(self, detail: dict) -> None:
        deployments = detail.pop("deployments")
        assign_changed(self, website=detail, deployments=deployments, deleted=False)


class WebsiteState(rx.State):
    """Per tab: the page's own questions (promote which deployment, delete) and the settings form."""

    not_found: bool = False
    promoting: int = 0  # the deployment the "make live" dialog asks about; 0: closed
    settings_error: str = ""
    deleting: bool = False  # the typed-name dialog is open
    delete_typed: str = ""
    delete_error: str = ""

    @rx.var
    def viewing_id(self) -> int:
        path = str(self.router.url.path).rstrip("/")
        if not path.startswith(PAGE_PREFIX):
            return 0
        last = path.removeprefix(PAGE_PREFIX)
        return int(last) if last.isdigit() else 0

    async def _user(self) -> User | None:
        return (await self.get_state(AuthState))._signed_in_user()

    @rx.event
    async def load(self):
        """On every load of a website page (and after a reconnect): check ownership, then link this
        tab to the website's shared page and read the current truth."""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        detail = read_website(user, self.viewing_id)
        self.not_found = detail is None
        self.promoting, self.settings_error, self.deleting, self.delete_typed, self.delete_error = 0, "", False, "", ""
        feed = await self.get_state(WebsiteFeedState)
        if detail is not None:
            feed = await link_for_session(feed, website_token(user.id, self.viewing_id))
            feed._show(detail)
            live.watching(user)
        elif feed._linked_to:
            return await feed._unlink()  # stop receiving a website this user cannot see

    @rx.event
    def ask_promote(self, job_id: int):
        """Open the confirmation for making deployment `job_id` live (the service checks it on Confirm)."""
        self.promoting = job_id

    @rx.event
    def set_promote_open(self, is_open: bool):
        self.promoting = self.promoting if is_open else 0

    @rx.event
    async def promote(self):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        job_id, self.promoting = self.promoting, 0
        try:
            websites.promote(user, self.viewing_id, job_id)
        except UserError as exc:
            return rx.toast.error("Could not make it live", description=str(exc))
        return rx.toast.success(f"Deployment #{job_id} is live")

    @rx.event
    async def redeploy(self):
        """Build the live deployment's files again, reusing no cache."""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            job = builds.redeploy(user, self.viewing_id)
        except UserError as exc:
            return rx.toast.error("Could not redeploy", description=str(exc))
        return rx.toast.success(f"Redeploy queued as deployment #{job.id}", description="Without cache: every step runs from scratch.")

    @rx.event
    async def save_settings(self, form: dict):
        """The name and address fields as submitted; only what changed is sent."""
        return await self._update({key: str(form.get(key, "")).strip() for key in ("name", "slug")}, "Settings saved")

    @rx.event
    async def set_auto_publish(self, on: bool):
        return await self._update({"autoPublish": bool(on)}, "New deployments go live when they build" if on else "New deployments wait for Promote")

    async def _update(self, changes: dict, done: str):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        shown = (await self.get_state(WebsiteFeedState)).website
        changes = {key: value for key, value in changes.items() if value != shown.get(key)}
        if not changes:
            self.settings_error = ""
            return None
        try:
            websites.update(user, self.viewing_id, changes)
        except UserError as exc:
            self.settings_error = str(exc)
            return None
        self.settings_error = ""
        return rx.toast.success(done)

    @rx.event
    def set_delete_open(self, is_open: bool):
        self.deleting, self.delete_typed, self.delete_error = is_open, "", ""

    @rx.event
    def set_delete_typed(self, value: str):
        self.delete_typed = value

    @rx.event
    async def delete_website(self):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            websites.delete(user, self.viewing_id, self.delete_typed)
        except UserError as exc:
            self.delete_error = str(exc)
            return None
        self.deleting = False
        return [rx.toast.success("Website deleted", description="Its addresses are down and its files are gone."), rx.redirect("/")]
