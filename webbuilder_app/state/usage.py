"""The queue page's "storage used / allowed" line: read when the page loads, as this tab's user."""

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from workers.services import usage
from workers.services.usage import human_bytes

from .auth import AuthState


class UsageState(rx.State):
    storage_used: str = ""
    storage_allowed: str = ""  # empty: no limit (admins, or the quota is off)
    storage_percent: int = 0

    @rx.event
    async def refresh(self):
        user = (await self.get_state(AuthState))._signed_in_user()
        if user is None:
            return
        figures = await run_in_threadpool(usage.usage, user)  # sums the user's jobs in SQL
        used, allowed = figures["storageUsedBytes"], figures["storageAllowedBytes"]
        self.storage_used = human_bytes(used)
        self.storage_allowed = human_bytes(allowed) if allowed else ""
        self.storage_percent = min(100, round(100 * used / allowed)) if allowed else 0
