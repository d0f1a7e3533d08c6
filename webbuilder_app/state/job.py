"""The job page: one job's steps, log tail and errors, refreshed when its worker reports a change."""

from typing import Any

import reflex as rx

from workers.config import RETRY_QUERY_PARAM
from workers.errors import UserError
from workers.services import builds, live
from workers.store.models import ACTIVE_STATUSES, RETRYABLE_STATUSES, User

from .ansi import segments
from .auth import AuthState
from .changes import assign_changed
from .session_tabs import link_for_session

# Deltas resend a whole var, so the page holds a bounded tail; the full log stays on disk.
LOG_LINES_IN_PAGE = 300
STEP_LABELS = {"extract": "Extract", "install": "Install", "typecheck": "Type check", "build": "Build", "publish": "Publish"}


def step_views(steps: dict) -> list[dict[str, str]]:
    """The five steps in order, each with a display status, duration and cache outcome."""
    views = []
    for name, label in STEP_LABELS.items():
        info = steps.get(name) or {}
        seconds = info.get("seconds")
        views.append({
            "name": name,
            "label": label,
            "status": info.get("status", "waiting"),
            "duration": f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "",
            "cache": info.get("cache", ""),
            "cacheReason": info.get("cacheReason", ""),
        })
    return views


def read_job(user: User, job_id: int) -> dict | None:
    """The job with its log, as its owner sees it; None for someone else's job or no job."""
    try:
        return builds.job_detail(user, job_id)
    except UserError:
        return None


def job_token(job_id: int) -> str:
    return live.job_feed_name(job_id)


class JobFeedState(rx.SharedState):
    """One job's view, shared by every tab that has it open (all of them its owner's: a tab links
    only after `JobState.load` checked ownership). The relay re-reads it once per change."""

    job: dict[str, Any] = {}
    steps: list[dict[str, str]] = []
    log_lines: list[list[dict[str, str]]] = []

    def _load(self, user: User, job_id: int) -> bool:
        """Re-read the job as `user` sees it; False when it is not theirs (or gone)."""
        detail = read_job(user, job_id)
        if detail is not None:
            self._show(detail)
        return detail is not None

    def _show(self, detail: dict) -> None:
        log_lines = [segments(line) for line in detail.pop("logs")[-LOG_LINES_IN_PAGE:]]
        assign_changed(self, log_lines=log_lines, steps=step_views(detail["steps"]), job=detail)

    @rx.var
    def is_active(self) -> bool:
        return self.job.get("status") in ACTIVE_STATUSES

    @rx.var
    def can_retry(self) -> bool:
        return self.job.get("status") in RETRYABLE_STATUSES


def offers_retry(detail: dict | None, query: dict) -> bool:
    """Opened from a failed build's notification (`?retry=1`) and the job can still be retried."""
    return detail is not None and detail["status"] in RETRYABLE_STATUSES and query.get(RETRY_QUERY_PARAM) == "1"


class JobState(rx.State):
    not_found: bool = False
    retry_offered: bool = False  # the "Retry this build?" dialog is open

    @rx.var
    def viewing_id(self) -> int:
        last = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _user(self) -> User | None:
        return (await self.get_state(AuthState))._signed_in_user()

    @rx.event
    async def load(self):
        """On every load of a job page (and after a reconnect): check ownership, then link this tab
        to the job's shared view and read the current truth."""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        detail = read_job(user, self.viewing_id)
        self.not_found = detail is None
        self.retry_offered = offers_retry(detail, self.router.url.query_parameters)
        feed = await self.get_state(JobFeedState)
        if detail is not None:
            feed = await link_for_session(feed, job_token(self.viewing_id))
            feed._show(detail)
            live.watching(user, self.viewing_id)
        elif feed._linked_to:
            return await feed._unlink()  # stop receiving a job this user cannot see

    @rx.event
    async def cancel(self, job_id: int):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            builds.cancel(user, job_id)
        except UserError as exc:
            return rx.toast.error("Could not cancel", description=str(exc))
        return rx.toast.info("Cancelling…")

    @rx.event
    async def retry(self, job_id: int):
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            new_job = builds.retry(user, job_id)
        except UserError as exc:
            return rx.toast.error("Could not retry", description=str(exc))
        return [rx.toast.success("Retry queued"), rx.redirect(f"/jobs/{new_job.id}")]

    @rx.event
    def set_retry_offer_open(self, is_open: bool):
        """The dialog was answered or dismissed; only a load with `?retry=1` opens it."""
        self.retry_offered = self.retry_offered and is_open

    @rx.event
    async def download_log(self, job_id: int):
        """The whole log as a file: the page shows only its tail, and browser users have no API token."""
        user = await self._user()
        if user is None:
            return rx.redirect("/login")
        try:
            text = builds.full_log(user, job_id)
        except UserError as exc:
            return rx.toast.error("Could not read the log", description=str(exc))
        return rx.download(data=text, filename=f"job-{job_id}.log")
