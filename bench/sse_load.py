"""Many concurrent live SSE clients: push latency while builds run.

Starts the whole app (`make run`'s supervisor: web and worker halves, SQLite, embedded Valkey) on a
fresh data folder, registers USERS users and opens CLIENTS event streams at once (CLIENTS / USERS per
user), all read by one asyncio loop in this process. A separate builder user keeps both build slots
busy (two worker processes) with scripted projects that burn CPU, so the server answers on a machine
whose cores the builds want too. Then each user in turn marks one of its notifications read through
the API (what the bell's click does); that publishes a `notification` event whose `unreadCount` tells
which of the user's changes it reflects (nothing else touches these users' notifications). Push
latency = the moment each of the user's clients reads the event − the moment just before the PATCH
was sent (both time.monotonic in this process), so it includes the API call itself.

    python -m bench.sse_load [--clients 200] [--users 20] [--changes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.projects import publish_js, scripted_project, zip_folder
from webbuilder_cli.sse import parse_sse

from .environment import BENCH_SETTINGS
from .live_latency import _percentile, running_app

BASE = "/api/website-builder"
STREAM = f"{BASE}/user/queue/stream"
PASSWORD = "password123"
BUILDS_IN_FLIGHT = 4  # two building, two waiting: a slot never idles while the changes are made
BUILD_CPU_SECONDS = 2
STARTUP_DEADLINE = 120  # seconds for every stream to say `ready`, and for the first build to start


@dataclass
class Dashboard:
    """One open stream: when it first saw each of its user's changes (1-based change number)."""

    user: int
    arrivals: dict[int, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None


@dataclass
class BellUser:
    """A user with `changes` unread notifications; sent[k] is when the PATCH of change k left,
    answered[k] when its answer came back."""

    token: str
    notification_ids: list[int]
    sent: dict[int, float] = field(default_factory=dict)
    answered: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SseLoadResult:
    clients: int
    changes: int
    deliveries: int
    missed: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    window_seconds: float
    builds_completed: int
    builds_failed: int
    builds_busy: float
    patch_p50_ms: float
    patch_p95_ms: float
    load_before: float
    load_after: float
    deadline: float


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register(http: httpx.AsyncClient, username: str) -> tuple[str, int]:
    response = await http.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    body = response.json()
    return body["token"], body["user"]["id"]


def _seed_notifications(user_id: int, count: int) -> list[int]:
    """Unread notifications to mark read, written as a finished build would have left them."""
    from workers.store.db import session_scope
    from workers.store.models import UserNotification

    with session_scope() as session:
        notes = [UserNotification(user_id=user_id, type="completed", title=f"Bench notice {n}") for n in range(count)]
        session.add_all(notes)
        session.flush()
        return [note.id for note in notes]


async def _follow(http: httpx.AsyncClient, token: str, dashboard: Dashboard, changes: int) -> None:
    """Read one stream until cancelled. The user starts with `changes` unread notifications, so
    change k has been seen once an event says `unreadCount` ≤ changes − k."""
    try:
        async with http.stream("GET", STREAM, headers=_auth(token)) as response:
            if response.status_code != 200:
                dashboard.failure = f"HTTP {response.status_code}"
                return
            block: list[str] = []
            async for line in response.aiter_lines():
                if line:
                    block.append(line)
                    continue
                arrived = time.monotonic()
                for event in parse_sse([*block, ""]):
                    if event is None:
                        continue
                    if event.event == "ready":
                        dashboard.ready.set()
                    elif event.event == "notification":
                        for change in range(len(dashboard.arrivals) + 1, changes - event.data["unreadCount"] + 1):
                            dashboard.arrivals[change] = arrived
                        if len(dashboard.arrivals) >= changes:
                            dashboard.complete.set()
                block = []
    except httpx.HTTPError as exc:
        dashboard.failure = f"{type(exc).__name__}: {exc}"
    finally:
        dashboard.ready.set()  # a failed stream must not hold up the start


async def _make_changes(http: httpx.AsyncClient, user: BellUser, offset: float, period: float, started: float) -> None:
    """Mark this user's notifications read one by one, change k at started + offset + (k−1)·period;
    each waits for the previous answer, so one user's changes land in order."""
    for change, notification_id in enumerate(user.notification_ids, start=1):
        await asyncio.sleep(max(0.0, started + offset + (change - 1) * period - time.monotonic()))
        user.sent[change] = time.monotonic()
        response = await http.patch(f"{BASE}/user/notifications/{notification_id}/read", headers=_auth(user.token))
        response.raise_for_status()
        user.answered[change] = time.monotonic()


def _cpu_bound_project(folder: Path, index: int) -> bytes:
    """A distinct scripted project (no build cache hit) whose build keeps a core busy for a while."""
    burn = f"const end = Date.now() + {BUILD_CPU_SECONDS * 1000}; let spins = 0; while (Date.now() < end) spins++\n"
    project = scripted_project(folder / f"build-{index}", burn + publish_js(f"'<h1>bench build {index}</h1>' + spins"))
    return zip_folder(project, folder / f"build-{index}.zip").read_bytes()


async def _active_builds(http: httpx.AsyncClient, token: str) -> list[dict]:
    response = await http.get(f"{BASE}/user/queue", headers=_auth(token))
    response.raise_for_status()
    return response.json()["activeJobs"]


async def _keep_builds_running(http: httpx.AsyncClient, token: str, folder: Path, stop: asyncio.Event) -> None:
    """Top the builder's queue up to BUILDS_IN_FLIGHT jobs every half second until told to stop."""
    uploaded = 0
    while not stop.is_set():
        for _ in range(BUILDS_IN_FLIGHT - len(await _active_builds(http, token))):
            data = _cpu_bound_project(folder, uploaded)
            response = await http.post(f"{BASE}/upload", headers=_auth(token),
                                       files={"files": ("site.zip", data, "application/zip")},
                                       data={"name": f"Bench build {uploaded}"})
            response.raise_for_status()
            uploaded += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass


async def _first_build_started(http: httpx.AsyncClient, token: str) -> None:
    """The changes start only once the workers are busy."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not any(job["status"] == "building" for job in await _active_builds(http, token)):
        if time.monotonic() > deadline:
            raise SystemExit("no build started; see the app's log")
        await asyncio.sleep(0.2)


def _naive_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; compare everything as naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _builds_during(user_id: int, begin: datetime, end: datetime) -> tuple[int, int, float]:
    """The builder's jobs that completed and failed between begin and end, and how many were
    building on average meanwhile (the build slots' occupancy)."""
    from sqlmodel import select

    from workers.store.db import session_scope
    from workers.store.models import BuildJob, JobStatus

    begin, end = _naive_utc(begin), _naive_utc(end)
    with session_scope() as session:
        jobs = session.exec(select(BuildJob.status, BuildJob.started_at, BuildJob.completed_at).where(BuildJob.user_id == user_id)).all()
    finished = [(status, _naive_utc(done)) for status, _, done in jobs if done is not None]
    building = [(_naive_utc(start), _naive_utc(done) if done else end) for _, start, done in jobs if start is not None]
    overlap = sum(max(0.0, (min(stop, end) - max(start, begin)).total_seconds()) for start, stop in building)
    return (
        sum(1 for status, done in finished if status == JobStatus.COMPLETED and begin <= done <= end),
        sum(1 for status, done in finished if status == JobStatus.FAILED and begin <= done <= end),
        overlap / max((end - begin).total_seconds(), 1e-9),
    )


async def _measure(url: str, clients: int, users: int, changes: int, spacing: float, deadline: float) -> SseLoadResult:
    limits = httpx.Limits(max_connections=clients + 20, max_keepalive_connections=clients + 20)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60, read=None), limits=limits) as http:
        builder_token, builder_id = await _register(http, "sse-builder")
        bell_users = []
        for n in range(users):
            token, user_id = await _register(http, f"sse-user-{n}")
            bell_users.append(BellUser(token, await asyncio.to_thread(_seed_notifications, user_id, changes)))
        dashboards = [Dashboard(user=n % users) for n in range(clients)]
        followers = [asyncio.create_task(_follow(http, bell_users[d.user].token, d, changes)) for d in dashboards]
        await asyncio.wait_for(asyncio.gather(*(d.ready.wait() for d in dashboards)), STARTUP_DEADLINE)
        failed = [d.failure for d in dashboards if d.failure]
        print(f"  {clients - len(failed)} of {clients} streams open" + (f"; failures: {failed[:3]}" if failed else ""), file=sys.stderr)

        stop_builds = asyncio.Event()
        with tempfile.TemporaryDirectory(prefix="sse-load-builds-") as folder:
            builder = asyncio.create_task(_keep_builds_running(http, builder_token, Path(folder), stop_builds))
            await _first_build_started(http, builder_token)
            load_before = os.getloadavg()[0]
            window_began = datetime.now(timezone.utc)
            started = time.monotonic()
            period = spacing * users  # each user changes something once per round
            await asyncio.gather(*(_make_changes(http, user, n * spacing, period, started) for n, user in enumerate(bell_users)))
            try:
                await asyncio.wait_for(asyncio.gather(*(d.complete.wait() for d in dashboards if not d.failure)), deadline)
            except TimeoutError:
                pass
            window_ended = datetime.now(timezone.utc)
            stop_builds.set()
            await builder
        load_after = os.getloadavg()[0]
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        completed, failed_builds, busy = await asyncio.to_thread(_builds_during, builder_id, window_began, window_ended)

    latencies, missed = [], 0
    for dashboard in dashboards:
        sent = bell_users[dashboard.user].sent
        for change, sent_at in sent.items():
            arrived = dashboard.arrivals.get(change)
            if arrived is None or arrived - sent_at > deadline:
                missed += 1
            else:
                latencies.append((arrived - sent_at) * 1000)
    round_trips = [(user.answered[k] - sent_at) * 1000 for user in bell_users for k, sent_at in user.sent.items()]
    return SseLoadResult(
        clients=clients,
        changes=sum(len(user.sent) for user in bell_users),
        deliveries=len(latencies),
        missed=missed,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p95_ms=_percentile(latencies, 0.95) if latencies else float("nan"),
        max_ms=max(latencies, default=float("nan")),
        window_seconds=(window_ended - window_began).total_seconds(),
        builds_completed=completed,
        builds_failed=failed_builds,
        builds_busy=busy,
        patch_p50_ms=statistics.median(round_trips),
        patch_p95_ms=_percentile(round_trips, 0.95),
        load_before=load_before,
        load_after=load_after,
        deadline=deadline,
    )


def run(clients: int = 200, users: int = 20, changes: int = 20, spacing: float = 0.05, deadline: float = 10) -> SseLoadResult:
    with running_app(role="all", **BENCH_SETTINGS) as (url, env):
        os.environ.update(env)  # this process seeds notifications and reads the builds' outcome in the app's database
        return asyncio.run(_measure(url, clients, users, changes, spacing, deadline))


def report(result: SseLoadResult) -> str:
    return "\n".join([
        "| clients | changes | deliveries | missed | p50 | p95 (target ≤ 1 s) | max |",
        "|---|---|---|---|---|---|---|",
        f"| {result.clients} | {result.changes} | {result.deliveries} | {result.missed} | {result.p50_ms:.0f} ms "
        f"| **{result.p95_ms:.0f} ms** | {result.max_ms:.0f} ms |",
        "",
        f"Latency = PATCH sent → event read by the client; it includes the PATCH itself (round trip p50 "
        f"{result.patch_p50_ms:.0f} ms, p95 {result.patch_p95_ms:.0f} ms). Missed = not seen within {result.deadline:.0f} s. "
        f"During the {result.window_seconds:.0f} s of changes and deliveries the builder's CPU-bound builds occupied "
        f"{result.builds_busy:.2f} of 2 build slots on average ({result.builds_completed} completed, {result.builds_failed} failed); "
        f"load average {result.load_before:.2f} at the first change, {result.load_after:.2f} at the end.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sse_load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="event streams open at once")
    parser.add_argument("--users", type=int, default=20, help="users the streams are spread over")
    parser.add_argument("--changes", type=int, default=20, help="notifications each user marks read")
    parser.add_argument("--spacing", type=float, default=0.05, help="seconds between two changes (of different users)")
    parser.add_argument("--deadline", type=float, default=10, help="seconds after which an undelivered change counts as missed")
    args = parser.parse_args()
    print(report(run(args.clients, args.users, args.changes, args.spacing, args.deadline)))


if __name__ == "__main__":
    main()
