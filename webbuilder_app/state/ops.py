"""The operators' page. Every handler re-checks that the signed-in user is an admin."""

from typing import Any

import reflex as rx

from workers.ops import dashboard as ops
from workers.queue import scheduler
from workers.store.db import session_scope

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

    def _read(self) -> None:
        with session_scope() as session:
            self.jobs = ops.active_jobs(session)
            stats = ops.history(session, self.window)
        self.users = ops.per_user(self.jobs)
        self.buckets = stats["buckets"]
        self.cache_hit_percent = _percent_var(stats["cacheHitPercent"])
        self.cache_lookups = stats["cacheLookups"]
        self.build_cache_hit_percent = _percent_var(stats["buildCacheHitPercent"])
        self.builds_finished = stats["buildsFinished"]
        self.host = ops.host_load()
        self.paused = scheduler.dispatching_paused()
        try:
            self.workers = ops.workers_alive()
        except Exception:  # Redis unreachable: say so through an empty list rather than fail the page
            self.workers = []

    @rx.event
    async def load(self):
        if await self._is_admin():
            self._read()
        elif (await self.get_state(AuthState))._signed_in_user() is None:
            return rx.redirect("/login")

    @rx.event
    async def refresh(self, _tick: Any = None):
        if await self._is_admin():
            self._read()

    @rx.event
    async def set_window(self, window: str | list[str]):
        if isinstance(window, str) and window in ops.WINDOWS and await self._is_admin():
            self.window = window
            self._read()

    @rx.event
    async def toggle_paused(self):
        if not await self._is_admin():
            return rx.toast.error("Only admins can pause dispatching.")
        scheduler.set_paused(not scheduler.dispatching_paused())
        self._read()
        return rx.toast.info("Dispatching paused: running builds carry on, nothing new starts." if self.paused else "Dispatching resumed.")
