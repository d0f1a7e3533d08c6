"""The operators' page. Every handler re-checks that the signed-in user is an admin."""

from typing import Any

import reflex as rx

from workers.errors import UserError
from workers.services import ops

from .auth import AuthState


def _percent_var(percent: int | None) -> int:
    """-1 stands for "nothing to count in the window": the page shows a dash."""
    return -1 if percent is None else percent


class OpsState(rx.State):
    allowed: bool = False
    checked: bool = False
    jobs: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    host: dict[str, Any] = {}
    buckets: list[dict[str, Any]] = []
    cache_hit_percent: int = -1
    cache_lookups: int = 0
    build_cache_hit_percent: int = -1
    builds_finished: int = 0
    window: str = "hour"
    paused: bool = False

    @rx.var
    def running_jobs(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job["status"] in ("building", "running")]

    @rx.var
    def waiting_jobs(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job["status"] not in ("building", "running")]

    async def _is_admin(self) -> bool:
        user = (await self.get_state(AuthState))._signed_in_user()
        self.allowed = user is not None and user.is_admin
        self.checked = True
        return self.allowed

    async def _read(self) -> None:
        view = ops.dashboard_view((await self.get_state(AuthState))._signed_in_user(), self.window)
        self.jobs, self.users, self.host, self.paused, self.workers = (
            view["jobs"], view["users"], view["host"], view["paused"], view["workers"])
        stats = view["stats"]
        self.buckets = stats["buckets"]
        self.cache_hit_percent = _percent_var(stats["cacheHitPercent"])
        self.cache_lookups = stats["cacheLookups"]
        self.build_cache_hit_percent = _percent_var(stats["buildCacheHitPercent"])
        self.builds_finished = stats["buildsFinished"]

    @rx.event
    async def load(self):
        if await self._is_admin():
            await self._read()
        elif (await self.get_state(AuthState))._signed_in_user() is None:
            return rx.redirect("/login")

    @rx.event
    async def refresh(self, _tick: Any = None):
        if await self._is_admin():
            await self._read()

    @rx.event
    async def set_window(self, window: str | list[str]):
        if isinstance(window, str) and window in ops.WINDOWS and await self._is_admin():
            self.window = window
            await self._read()

    @rx.event
    async def toggle_paused(self):
        try:
            ops.toggle_paused((await self.get_state(AuthState))._signed_in_user())
        except UserError:
            return rx.toast.error("Only admins can pause dispatching.")
        await self._read()
        return rx.toast.info("Dispatching paused: running builds carry on, nothing new starts." if self.paused else "Dispatching resumed.")
