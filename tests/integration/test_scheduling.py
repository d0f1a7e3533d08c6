"""Claims under real concurrency: many claimers at once on the test database (PostgreSQL in CI's
second pass), and real Dramatiq worker processes starting jobs in the dispatcher's order."""

from __future__ import annotations

import threading
from itertools import count

import pytest

from tests.conftest import wait_for
from tests.helpers import job, make_user, queue_project
from tests.projects import static_site
from workers.queue import scheduler
from workers.store.db import session_scope
from workers.store.models import BuildJob

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path):
    numbers = count()

    def queue(user_id: int, priority: int = 0) -> int:
        n = next(numbers)
        return queue_project(user_id, static_site(tmp_path / f"site{n}", f"site {n}"), f"Site {n}", priority)

    return queue


def claim_concurrently(claimers: int, until_empty: bool) -> list[int]:
    """`claimers` threads, each with its own connection, claim at the same moment."""
    claimed: list[int] = []
    barrier = threading.Barrier(claimers)
    lock = threading.Lock()

    def claimer(number: int) -> None:
        barrier.wait()
        while True:
            with session_scope() as session:
                got = scheduler.claim_next_job(session, f"claimer-{number}")
                got_id = got.id if got else None
            if got_id is None:
                return
            with lock:
                claimed.append(got_id)
            if not until_empty:
                return

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def test_concurrent_claimers_never_start_a_job_twice(env, site, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_CONCURRENT_BUILDS", "100")
    user = make_user()
    queued = {site(user) for _ in range(30)}
    claimed = claim_concurrently(claimers=8, until_empty=True)
    assert sorted(claimed) == sorted(queued)  # each exactly once
    with session_scope() as session:
        rows = [session.get(BuildJob, job_id) for job_id in queued]
        assert {(row.status, row.attempts) for row in rows} == {("building", 1)}


def test_concurrent_claimers_respect_the_global_slot_cap(env, site, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_CONCURRENT_BUILDS", "3")
    user = make_user()
    for _ in range(10):
        site(user)
    claimed = claim_concurrently(claimers=8, until_empty=False)
    assert len(claimed) == 3 == len(set(claimed))
    with session_scope() as session:
        assert scheduler.running_count(session) == 3


def test_worker_processes_start_jobs_in_priority_and_fair_order(env, site, processes, monkeypatch):
    settings_env = {"WEBBUILDER_MAX_CONCURRENT_BUILDS": "1", "WEBBUILDER_AGING_SECONDS_PER_POINT": "3600"}
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    scheduler.set_paused(True)  # queue everything first, so the order is the dispatcher's alone
    alice_low = [site(alice, -5), site(alice, -5)]
    alice_normal = [site(alice), site(alice)]
    bob_normal = site(bob)
    carol_high = site(carol, 5)
    for _ in range(2):
        processes.worker({**env, **settings_env})
    scheduler.set_paused(False)

    everything = [*alice_low, *alice_normal, bob_normal, carol_high]
    done = wait_for(lambda: all(job(j).status == "completed" for j in everything) and [job(j) for j in everything], timeout=120, what="all builds")
    started = [row.id for row in sorted(done, key=lambda row: row.started_at)]
    assert started == [carol_high, alice_normal[0], bob_normal, alice_normal[1], *alice_low]
    assert {row.attempts for row in done} == {1}
    spans = sorted((row.started_at, row.completed_at) for row in done)
    assert all(previous[1] <= following[0] for previous, following in zip(spans, spans[1:])), "two builds overlapped on one slot"
