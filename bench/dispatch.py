"""How long the dispatcher takes to pick the next job with 1,000 jobs queued.

The queue: 1,000 jobs from 50 users at five priority levels, uploaded over the last hour (so aging
is in play). Each pick is the worker's real claim (scheduler lock, ordering, claim) in a transaction
that is rolled back, so every pick sees the full queue.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from workers.queue.scheduler import claim_next_job
from workers.store.db import engine, session_scope
from workers.store.models import BuildJob, JobStatus, User, Website, utcnow

from .environment import installation

QUEUED = 1000
USERS = 50
PICKS = 50


@dataclass(frozen=True)
class PickFigures:
    median_ms: float
    p95_ms: float
    database: str


def _fill_queue() -> None:
    rng = random.Random(4)
    now = utcnow()
    with session_scope() as session:
        users = [User(username=f"user{n}", password_hash="-") for n in range(USERS)]
        session.add_all(users)
        session.flush()
        sites = [Website(user_id=users[rng.randrange(USERS)].id, name=f"site {n}") for n in range(QUEUED)]
        session.add_all(sites)
        session.flush()
        session.add_all(
            BuildJob(
                website_id=site.id,
                user_id=site.user_id,
                status=JobStatus.QUEUED,
                priority=rng.choice((-5, 0, 0, 0, 5)),
                current_step="queued",
                created_at=now - timedelta(seconds=rng.uniform(0, 3600)),
            )
            for site in sites
        )


def run(redis_url: str, log=print) -> PickFigures:
    with installation(redis_url, WEBBUILDER_MAX_CONCURRENT_BUILDS="4"):
        _fill_queue()
        timings = []
        for _ in range(PICKS):
            with Session(engine()) as session:
                began = time.perf_counter()
                picked = claim_next_job(session, "bench")
                session.flush()
                timings.append((time.perf_counter() - began) * 1000)
                assert picked is not None
                session.rollback()
        database = engine().dialect.name
    timings.sort()
    figures = PickFigures(statistics.median(timings), timings[int(0.95 * (len(timings) - 1))], database)
    log(f"  {PICKS} picks from {QUEUED} queued jobs on {database}: median {figures.median_ms:.1f} ms, p95 {figures.p95_ms:.1f} ms")
    return figures
