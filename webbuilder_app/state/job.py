"""The job page: one job's steps, log tail and errors, refreshed when its worker reports a change."""

from typing import Any

import reflex as rx

from workers import events, jobs
from workers.db import session_scope

from .auth import AuthState

LOG_LINES_IN_PAGE = 300


class JobState(rx.State):
    job: dict[str, Any] = {}
    log_lines: list[str] = []
    not_found: bool = False
    action_error: str = ""

    @rx.var
    def viewing_id(self) -> int:
        last = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _user_id(self) -> int | None:
        return (await self.get_state(AuthState)).current_user_id()

    @rx.event
    async def load(self):
        user_id = await self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as session:
                detail = jobs.job_detail(session, user_id, self.viewing_id)
        except jobs.JobError:
            self.job, self.log_lines, self.not_found = {}, [], True
            return
        self.log_lines = detail.pop("logs")[-LOG_LINES_IN_PAGE:]
        self.job, self.not_found = detail, False

    @rx.event
    async def refresh_if(self, job_id: int):
        """Sent by the backend's relay when a job of this user changed."""
        if self.job and job_id == self.viewing_id:
            return await self.load()

    @rx.event
    async def cancel(self, job_id: int):
        user_id = await self._user_id()
        try:
            with session_scope() as session:
                jobs.cancel(session, user_id, job_id)
        except jobs.JobError as exc:
            return rx.toast.error(str(exc))
        events.publish("job_update", user_id, job_id)
        return rx.toast.info("Cancelling…")

    @rx.event
    async def retry(self, job_id: int):
        user_id = await self._user_id()
        try:
            with session_scope() as session:
                new_job = jobs.retry(session, user_id, job_id)
        except jobs.JobError as exc:
            return rx.toast.error(str(exc))
        jobs.after_submit(new_job)
        return [rx.toast.success("Retry queued"), rx.redirect(f"/jobs/{new_job.id}")]
