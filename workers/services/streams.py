"""The user's event stream (`GET /user/queue/stream`): where their change notices are kept, the
open-streams quota, and the body of each event, read from the database (which is the truth)."""

from __future__ import annotations

import redis.asyncio as aioredis

from workers.errors import UserError
from workers.jobs import quotas
from workers.services import builds, notifications
from workers.store import events
from workers.store.events import Change
from workers.store.models import User

StreamLease = quotas.StreamLease
__all__ = ["Change", "StreamLease", "notice_stream", "open_stream", "payloads"]


def notice_stream(user: User) -> str:
    """The Redis stream holding the user's recent change notices."""
    return events.user_stream(user.id)


async def open_stream(client: aioredis.Redis, user: User) -> StreamLease:
    """A lease for one more open stream of the user's, or UserError 429 past their quota."""
    return await quotas.open_stream(client, user)


def payloads(user: User, change: str, job_id: int | None) -> list[tuple[str, dict]]:
    """The events (name, data) one change notice of the user's stands for."""
    if change == "job_update":
        try:
            view = builds.job_detail(user, job_id)
        except UserError:
            return []
        view.pop("logs", None)
        return [("job_update", {"type": "job_update", "job": view})]
    if change == "queue":
        return [("job_update", {"type": "job_update", "job": view}) for view in builds.queue(user)["activeJobs"]]
    notes = notifications.recent(user, limit=1)
    latest = notes["notifications"][0] if notes["notifications"] else None
    return [("notification", {"type": "notification", "unreadCount": notes["unreadCount"], "latest": latest})]
