"""A burst of uploads against the whole app: 500 distinct 200 KB zips from 20 concurrent clients.

Every upload must be answered (202) quickly, and every job must reach a terminal state exactly once:
none lost, none duplicated. Run: `python -m bench.load` (also part of `python -m bench`).

In a burst each client sends its next upload as soon as the last is answered, so the answer time is
(clients ÷ uploads answered per second): it measures throughput as much as latency. `--rate N` paces
the same uploads at N per second instead (open loop), which shows the answer time of a machine that
is not saturated. `--web-processes N` runs N Reflex backend processes; with DATABASE_URL set (to an
empty database) the app runs on it, e.g. PostgreSQL.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from .environment import BENCH_SETTINGS
from .live_latency import running_app

UPLOADS, CLIENTS, ZIP_KB = 500, 20, 200
PACED_RATE = 40.0  # uploads per second of the open-loop run in `python -m bench`
DRAIN_DEADLINE_SECONDS = 900


@dataclass(frozen=True)
class LoadResult:
    uploads: int
    answered: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    drain_seconds: float
    completed: int
    failed: int
    lost: int
    duplicated: int


def site_zip(index: int) -> bytes:
    """A static site with an incompressible asset, so the zip really weighs ZIP_KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", f"<!doctype html><title>load {index}</title><h1>site {index}</h1>")
        archive.writestr("assets/noise.bin", os.urandom(ZIP_KB * 1024))
    return buffer.getvalue()


def _client(url: str, token: str, zips: list[tuple[int, bytes]], send_at) -> list[tuple[float, int | None]]:
    """Upload `zips` one after another; `send_at(index)` is the earliest moment for each (monotonic)."""
    answers = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for index, data in zips:
            time.sleep(max(0.0, send_at(index) - time.monotonic()))  # pacing of an open-loop run
            began = time.perf_counter()
            response = http.post(
                "/api/website-builder/upload",
                files={"files": (f"site-{index}.zip", data, "application/zip")},
                data={"name": f"Load {index}"},
            )
            elapsed = time.perf_counter() - began
            job_id = response.json()["website"]["buildJobId"] if response.status_code == 202 else None
            answers.append((elapsed, job_id))
    return answers


def run(uploads: int = UPLOADS, clients: int = CLIENTS, rate: float | None = None, web_processes: int = 1) -> LoadResult:
    zips = [(index, site_zip(index)) for index in range(uploads)]
    with running_app(role="all", WEBBUILDER_WEB_PROCESSES=str(web_processes), **BENCH_SETTINGS) as (url, env):
        os.environ.update(env)  # this process reads the app's database to check the outcome
        from sqlmodel import func, select

        from workers.store.db import session_scope
        from workers.store.models import TERMINAL_STATUSES, BuildJob, JobStatus

        tokens = [
            httpx.post(f"{url}/api/auth/register", json={"username": f"load{n}", "password": "password123"}).json()["token"]
            for n in range(clients)
        ]
        shares = [zips[n::clients] for n in range(clients)]
        started = time.monotonic()
        send_at = (lambda index: started + index / rate) if rate else (lambda index: started)
        with ThreadPoolExecutor(clients) as pool:
            answers = [a for share in pool.map(_client, [url] * clients, tokens, shares, [send_at] * clients) for a in share]
        job_ids = [job_id for _, job_id in answers if job_id is not None]

        def terminal() -> int:
            with session_scope() as session:
                return session.exec(
                    select(func.count()).select_from(BuildJob).where(BuildJob.status.in_(TERMINAL_STATUSES))
                ).one()

        deadline = time.monotonic() + DRAIN_DEADLINE_SECONDS
        while terminal() < len(job_ids) and time.monotonic() < deadline:
            time.sleep(1)  # a progress check of a long run, not synchronisation
        drained = time.monotonic() - started
        with session_scope() as session:
            rows = session.exec(select(BuildJob.id, BuildJob.status)).all()
    latencies = sorted(elapsed * 1000 for elapsed, _ in answers)
    statuses = dict(rows)
    return LoadResult(
        uploads=uploads,
        answered=len(job_ids),
        p50_ms=statistics.median(latencies),
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))],
        max_ms=latencies[-1],
        drain_seconds=drained,
        completed=sum(1 for s in statuses.values() if s == JobStatus.COMPLETED),
        failed=sum(1 for s in statuses.values() if s == JobStatus.FAILED),
        lost=sum(1 for job_id in job_ids if statuses.get(job_id) not in TERMINAL_STATUSES),
        duplicated=len(rows) - len(set(job_ids)),  # jobs nobody uploaded
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=UPLOADS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--rate", type=float, help="uploads per second, paced (default: a burst)")
    parser.add_argument("--web-processes", type=int, default=1, help="Reflex backend processes (WEBBUILDER_WEB_PROCESSES)")
    args = parser.parse_args()
    result = run(args.uploads, args.clients, args.rate, args.web_processes)
    print("| uploads | answered | upload p50 | upload p95 (target ≤ 100 ms) | max | all terminal after | completed | failed | lost | duplicated |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {result.uploads} | {result.answered} | {result.p50_ms:.0f} ms | **{result.p95_ms:.0f} ms** | {result.max_ms:.0f} ms "
        f"| {result.drain_seconds:.0f} s | {result.completed} | {result.failed} | {result.lost} | {result.duplicated} |"
    )


if __name__ == "__main__":
    main()
