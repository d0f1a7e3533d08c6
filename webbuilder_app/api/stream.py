"""`GET /api/website-builder/user/queue/stream`: the user's changes as Server-Sent Events.

Every change notice (workers/store/events.py) is also appended to a capped per-user Redis stream. This
endpoint reads that stream with a blocking XREAD, so an event goes out as soon as the notice lands,
and each event carries the stream entry id as its SSE `id`. A client that reconnects with
`Last-Event-ID` is replayed everything after that id. Notices only name what changed: the body of
each event is read from the database, which is the truth. A burst of notices for one job read in one
XREAD becomes one event (the job's current view, under the last notice's id). All of a user's open
streams wake on the same entry at once; they share one database read of it (`shared_payloads`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from workers.config import settings
from workers.errors import UserError
from workers.services import auth, streams
from workers.services.streams import Change
from workers.store.models import User

from .auth import Credential, current_user
from .schemas import errors

router = APIRouter(prefix="/api/website-builder", tags=["builds"])
log = logging.getLogger(__name__)
EVENT_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
BATCH = 200
RECONNECT_MS = 2000
# How often a stream re-checks its session: a stream of a session that ended closes within this.
SESSION_CHECK_SECONDS = 2.0


class StreamUnavailable(UserError):
    def __init__(self, reason: str):
        super().__init__(f"Live updates are unavailable right now ({reason}); poll /user/queue instead.", 503)


def heartbeat_seconds() -> float:
    """Comments keep proxies from closing an idle stream; tests shorten the interval."""
    return float(os.environ.get("WEBBUILDER_SSE_HEARTBEAT_SECONDS", "") or 15)


def _id_key(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def sse(event: str, event_id: str | None, data: dict) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


async def _start(client: aioredis.Redis, key: str, last_event_id: str | None) -> tuple[str, bool]:
    """Where to read from, and whether notices after `last_event_id` were already trimmed away."""
    if last_event_id is None:
        newest = await client.xrevrange(key, count=1)
        return (newest[0][0].decode() if newest else "0-0"), False
    try:
        info = await client.xinfo_stream(key)
    except aioredis.ResponseError:  # no stream yet: nothing was lost
        return last_event_id, False
    # Trimming drops the oldest entries; if any were dropped and the client's id is older than the
    # oldest one kept, it may have missed some (conservatively: say so).
    trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0)
    first = info.get("first-entry")
    older_than_kept = bool(first) and _id_key(last_event_id) < _id_key(first[0].decode())
    return last_event_id, trimmed and older_than_kept


def _changes(entries: list) -> list[tuple[str, int | None, str]]:
    """(change, job id, entry id) per distinct change, in the order of each one's last notice."""
    latest: dict[tuple[str, int | None], str] = {}
    for entry_id, fields in entries:
        try:
            notice = json.loads(fields[b"data"])
            kind, job_id = str(notice.get("type", "")), notice.get("jobId")
        except (KeyError, ValueError, AttributeError):
            continue
        if kind == Change.JOB and job_id:
            change = ("job_update", int(job_id))
        elif kind in (Change.NOTIFICATION, Change.NOTIFICATIONS_READ):
            change = ("notification", None)
        elif kind == Change.QUEUE:  # someone else's job moved ahead: this user's positions changed
            change = ("queue", None)
        else:
            continue
        latest.pop(change, None)  # re-insert, so dict order follows the last notice
        latest[change] = entry_id.decode()
    return [(event, job_id, entry_id) for (event, job_id), entry_id in latest.items()]


_reads_in_flight: dict[tuple[int, str, int | None, str], asyncio.Future] = {}


async def shared_payloads(user: User, change: str, job_id: int | None, entry_id: str) -> list[tuple[str, dict]]:
    """`streams.payloads` of one stream entry, read once for every stream of the user that is waiting for it:
    with ten tabs open a change costs one database read, not ten (bench.sse_load, 200 streams: the web
    process used ~45 % less CPU). A read that starts after the entry was read from Redis sees every
    change up to that entry, whoever started it; it is shielded, so a stream that closes meanwhile does
    not cancel it for the others."""
    key = (user.id, change, job_id, entry_id)
    read = _reads_in_flight.get(key)
    if read is None:
        read = asyncio.ensure_future(run_in_threadpool(streams.payloads, user, change, job_id))
        _reads_in_flight[key] = read
        read.add_done_callback(lambda _: _reads_in_flight.pop(key, None))
    return await asyncio.shield(read)


async def _events(
    client: aioredis.Redis, user: User, token: str, cursor: str, trimmed: bool, lease: streams.StreamLease
) -> AsyncIterator[str]:
    key = streams.notice_stream(user)
    loop = asyncio.get_running_loop()
    heartbeat_due = loop.time() + heartbeat_seconds()
    session_checked = loop.time()
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        if trimmed:
            yield sse("resync", None, {"type": "resync", "message": "Some changes were missed; re-read /user/queue."})
        yield sse("ready", cursor, {"type": "ready"})
        while True:
            wait = min(heartbeat_due, session_checked + SESSION_CHECK_SECONDS) - loop.time()
            batch = await client.xread({key: cursor}, count=BATCH, block=max(1, int(wait * 1000)))
            if loop.time() >= session_checked + SESSION_CHECK_SECONDS:
                session_checked = loop.time()
                await lease.renew()
                if await run_in_threadpool(auth.user_for_token, token) is None:
                    yield sse("signed_out", None, {"type": "signed_out", "message": "This session ended; sign in again."})
                    return
            if not batch:
                if loop.time() >= heartbeat_due:
                    heartbeat_due = loop.time() + heartbeat_seconds()
                    yield ": heartbeat\n\n"
                continue
            entries = batch[0][1]
            for change, job_id, entry_id in _changes(entries):
                for event, data in await shared_payloads(user, change, job_id, entry_id):
                    yield sse(event, entry_id, data)
            cursor = entries[-1][0].decode()
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
        # Redis went away: end the stream; the client reconnects (`retry:`) with its Last-Event-ID
        # and is told to resync if what it missed is gone.
        log.warning("event stream of user %s lost Redis: %s", user.id, exc)
    finally:
        await lease.release()
        await client.aclose()


@router.get(
    "/user/queue/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "An endless event stream."},
        **errors(400, 401, 429, 503),
    },
)
async def queue_stream(
    credentials: Credential,
    user: User = Depends(current_user),
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="Resume after this event id.")] = None,
) -> StreamingResponse:
    """Server-Sent Events: `job_update` (the job's current view) and `notification` (unread count and
    the newest notification) whenever one of your jobs or notifications changes; `ready` first, with the
    id to resume from; `: heartbeat` comments every 15 s. Reconnect with `Last-Event-ID` to receive
    what you missed; a `resync` event says the gap was too long and you should re-read the queue;
    `signed_out` ends the stream when its session ended (within 2 s). A user may hold
    WEBBUILDER_QUOTA_EVENT_STREAMS streams open at once (default 10); one more answers 429."""
    if last_event_id is not None:
        last_event_id = last_event_id.strip()
        if not EVENT_ID_RE.match(last_event_id):
            raise UserError("Last-Event-ID must be an id this stream sent, like 1718000000000-0.", 400)
    url = settings().redis_url
    if not url:
        raise StreamUnavailable("no Redis configured")
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        cursor, trimmed = await _start(client, streams.notice_stream(user), last_event_id)
        lease = await streams.open_stream(client, user)  # 429 past the user's open streams
    except UserError:
        await client.aclose()
        raise
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
        await client.aclose()
        raise StreamUnavailable(str(exc)) from exc
    return StreamingResponse(
        _events(client, user, credentials.credentials, cursor, trimmed, lease),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
