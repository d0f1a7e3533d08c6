"""Per-user quotas, checked where the user acts. Admins are exempt; a quota set to 0 is off.

- builds queued or running (WEBBUILDER_QUOTA_ACTIVE_BUILDS): an upload or a retry past it is 429;
- uploads per hour (WEBBUILDER_QUOTA_UPLOADS_PER_HOUR): 429 with Retry-After. Counted from the
  websites created in the last hour (every accepted upload creates one), so refused uploads do not
  count and every web process sees the same figure;
- bytes stored (WEBBUILDER_QUOTA_STORAGE_MB): the user's job sources and published sites on disk,
  each inode once (see `storage_used`); an upload that would go past it is 413;
- open event streams (WEBBUILDER_QUOTA_EVENT_STREAMS): 429. Counted in Redis, so across web
  processes: each open stream holds a lease in a sorted set per user, renews it while it runs and
  releases it when it ends; the lease of a stream whose process died expires.

Concurrent requests of one user are checked independently, so a burst can pass a limit by the number
of requests in flight; the next request after it is refused.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import redis.asyncio as aioredis
from sqlalchemy import case
from sqlmodel import Session, col, func, select

from workers.build.disk_budget import tree_bytes
from workers.config import settings
from workers.errors import UserError
from workers.store.models import ACTIVE_STATUSES, BuildJob, User, Website, utcnow

MIB = 1024 * 1024
UPLOAD_WINDOW = timedelta(hours=1)
STREAM_LEASE_SECONDS = 30  # a stream renews its lease at least every few seconds (api/stream.py)
STREAMS_KEY_PREFIX = "webbuilder:streams:user:"


def _limit_for(user: User | None, limit: int) -> int:
    """The limit that applies to `user`: 0 (none) for admins or a quota turned off. A user id that
    names no account gets the limit, not the exemption."""
    return 0 if limit <= 0 or (user is not None and user.is_admin) else limit


def _acting(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def check_active_builds(session: Session, user_id: int) -> None:
    """Before queueing another build (an upload or a retry)."""
    limit = _limit_for(_acting(session, user_id), settings().quota_active_builds)
    if limit and (active := active_builds(session, user_id)) >= limit:
        raise UserError(
            f"You have {active} builds queued or running, the most you may have at once ({limit}). "
            "Wait for one to finish, or cancel one.",
            429,
        )


def active_builds(session: Session, user_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(BuildJob).where(BuildJob.user_id == user_id, col(BuildJob.status).in_(ACTIVE_STATUSES))
    ).one()


def _uploads_in_window(session: Session, user_id: int) -> list:
    """When each of the user's uploads of the last hour was accepted, oldest first."""
    return list(
        session.exec(
            select(Website.created_at)
            .where(Website.user_id == user_id, col(Website.created_at) > utcnow() - UPLOAD_WINDOW)
            .order_by(Website.created_at)
        ).all()
    )


def check_upload_rate(session: Session, user_id: int) -> None:
    """Before reading an upload's files."""
    limit = _limit_for(_acting(session, user_id), settings().quota_uploads_per_hour)
    if not limit:
        return
    accepted = _uploads_in_window(session, user_id)
    if len(accepted) >= limit:
        # A place frees up when the upload that put the user at the limit leaves the window.
        frees_at = accepted[len(accepted) - limit] + UPLOAD_WINDOW
        wait = max(1, math.ceil((frees_at - utcnow()).total_seconds()))
        raise UserError(
            f"You uploaded {len(accepted)} projects in the last hour, the most allowed ({limit} an hour). "
            f"Try again in {_duration(wait)}.",
            429,
            retry_after=wait,
        )


def check_storage(session: Session, user_id: int, incoming: Path) -> None:
    """Before keeping the staged upload `incoming`: refuse if it would take the user past the quota."""
    limit_mb = _limit_for(_acting(session, user_id), settings().quota_storage_mb)
    if not limit_mb:
        return
    used, adding = storage_used(session, user_id), tree_bytes(incoming)
    if used + adding > limit_mb * MIB:
        raise UserError(
            f"This upload ({human_bytes(adding)}) would take your storage past your allowance: "
            f"{human_bytes(used)} of {human_bytes(limit_mb * MIB)} used. Nothing was queued.",
            413,
        )


def storage_used(session: Session, user_id: int) -> int:
    """Bytes of the user's job sources and published sites on disk, each inode counted once, summed
    from what each job wrote when it wrote it (both never change afterwards): an upload's source
    (`source_bytes`) and a built site (`site_bytes`, recorded by the publish step). A retry's source
    is hard links to its predecessor's and a build-cache hit's site hard links to the site it reuses,
    so neither adds any (a retry's `source_bytes` is its predecessor's; a hit records no `site_bytes`)."""
    sources = func.coalesce(func.sum(case((col(BuildJob.retry_of).is_(None), BuildJob.source_bytes), else_=0)), 0)
    sites = func.coalesce(func.sum(BuildJob.site_bytes), 0)
    kept = select(sources, sites).where(BuildJob.user_id == user_id, col(BuildJob.retired_at).is_(None))  # retired: files deleted
    used_sources, used_sites = session.exec(kept).one()
    return int(used_sources) + int(used_sites)


def usage(session: Session, user: User) -> dict:
    """What the user has used of each quota; an allowance of None means no limit (the API's body)."""
    cfg = settings()
    storage_mb = _limit_for(user, cfg.quota_storage_mb)
    return {
        "storageUsedBytes": storage_used(session, user.id),
        "storageAllowedBytes": storage_mb * MIB or None,
        "activeBuilds": active_builds(session, user.id),
        "activeBuildsAllowed": _limit_for(user, cfg.quota_active_builds) or None,
        "uploadsLastHour": len(_uploads_in_window(session, user.id)),
        "uploadsPerHourAllowed": _limit_for(user, cfg.quota_uploads_per_hour) or None,
        "eventStreamsAllowed": _limit_for(user, cfg.quota_event_streams) or None,
    }


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 1024 * MIB), ("MB", MIB), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def _duration(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)} min" if seconds >= 60 else f"{seconds} s"


# --- open event streams ----------------------------------------------------------------------------

# Drop expired leases, then take one if fewer than the limit are held; one round trip, atomic.
_TAKE_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def streams_key(user_id: int) -> str:
    return f"{STREAMS_KEY_PREFIX}{user_id}"


@dataclass
class StreamLease:
    """One open event stream's place in its user's quota; `key` None: the user has no limit."""

    client: aioredis.Redis
    key: str | None
    member: str

    async def renew(self) -> None:
        if self.key:
            await self.client.zadd(self.key, {self.member: time.time() + STREAM_LEASE_SECONDS})
            await self.client.expire(self.key, STREAM_LEASE_SECONDS)

    async def release(self) -> None:
        """Give the place back; shielded, so it also runs in a stream being cancelled (the client
        went away). If Redis is unreachable the lease expires instead."""
        if self.key:
            with anyio.CancelScope(shield=True):
                try:
                    await self.client.zrem(self.key, self.member)
                except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                    pass


async def open_stream(client: aioredis.Redis, user: User) -> StreamLease:
    """A lease for a new event stream of `user`, or UserError (429) when they have as many open
    as allowed. Redis errors propagate (the caller answers 503)."""
    limit = _limit_for(user, settings().quota_event_streams)
    lease = StreamLease(client, streams_key(user.id) if limit else None, uuid.uuid4().hex)
    if not limit:
        return lease
    now = time.time()
    taken = await client.eval(_TAKE_LEASE, 1, lease.key, now, limit, now + STREAM_LEASE_SECONDS, lease.member, STREAM_LEASE_SECONDS)
    if not taken:
        raise UserError(
            f"You have {limit} event streams open, the most allowed at once. Close one (another tab, "
            "script or `webbuilder submit --wait`) and try again.",
            429,
        )
    return lease
