"""The dispatcher's order: priority, aging, per-user round-robin, admission, pause, positions and ETAs.

Jobs are claimed through the same function the worker actor uses, on the test database."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.helpers import make_user, queue_project
from tests.projects import static_site
from workers.config import settings
from workers.jobs import views
from workers.queue import psutil_admission, scheduler
from workers.queue.eta import QueueEstimator
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


@pytest.fixture
def site(tmp_path):
    """Queue a distinct static site (identical files would be answered by the build cache)."""
    count = iter(range(1_000_000))

    def queue(user_id: int, priority: int = 0, age_seconds: float = 0) -> int:
        n = next(count)
        job_id = queue_project(user_id, static_site(tmp_path / f"site{n}", f"site {n}"), f"Site {n}", priority)
        if age_seconds:
            with session_scope() as session:
                session.exec(update(BuildJob).where(BuildJob.id == job_id).values(created_at=utcnow() - timedelta(seconds=age_seconds)))
        return job_id

    return queue


def start_next() -> int | None:
    with session_scope() as session:
        job = scheduler.claim_next_job(session, "test-worker")
        return job.id if job else None


def finish(job_id: int) -> None:
    with session_scope() as session:
        job = session.get(BuildJob, job_id)
        job.status, job.completed_at = JobStatus.COMPLETED, utcnow()


def start_order(count: int) -> list[int]:
    """Run `count` jobs one at a time (one slot), as workers would, and return who started when."""
    order = []
    for _ in range(count):
        job_id = start_next()
        assert job_id is not None
        order.append(job_id)
        finish(job_id)
    return order


@pytest.fixture
def one_slot(monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_CONCURRENT_BUILDS", "1")


def test_high_priority_starts_before_earlier_low_ones(env, site, one_slot):
    user = make_user()
    low = [site(user, priority=-5) for _ in range(3)]
    high = site(user, priority=5)
    assert start_order(4) == [high, *low]


def test_aging_lets_an_old_low_job_overtake(env, site, one_slot, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_AGING_SECONDS_PER_POINT", "60")
    monkeypatch.setenv("WEBBUILDER_AGING_MAX_BOOST", "10")
    user = make_user()
    old_low = site(user, priority=-5, age_seconds=11 * 60)  # -5 + 10 (capped) = 5
    fresh_high = site(user, priority=3)
    assert start_order(2) == [old_low, fresh_high]


def test_aging_boost_is_capped(env, site, one_slot, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_AGING_SECONDS_PER_POINT", "60")
    monkeypatch.setenv("WEBBUILDER_AGING_MAX_BOOST", "2")
    user = make_user()
    ancient_low = site(user, priority=-5, age_seconds=3600)  # -5 + 2 = -3
    fresh_normal = site(user, priority=0)
    assert start_order(2) == [fresh_normal, ancient_low]


def test_two_users_alternate(env, site, one_slot):
    alice, bob = make_user("alice"), make_user("bob")
    alice_jobs = [site(alice) for _ in range(3)]
    bob_jobs = [site(bob) for _ in range(3)]
    order = start_order(6)
    owners = ["alice" if job_id in alice_jobs else "bob" for job_id in order]
    assert owners == ["alice", "bob", "alice", "bob", "alice", "bob"]
    assert [j for j in order if j in alice_jobs] == alice_jobs  # each user's jobs in upload order
    assert [j for j in order if j in bob_jobs] == bob_jobs


def test_a_late_single_upload_is_not_stuck_behind_one_users_aged_backlog(env, site, one_slot):
    alice, bob = make_user("alice"), make_user("bob")
    backlog = [site(alice, age_seconds=600 - i) for i in range(10)]  # aged 10 minutes: boost 10
    first = start_order(1)
    assert first == backlog[:1]
    late = site(bob)  # boost 0, same upload priority
    assert start_order(1) == [late]


def test_positions_follow_the_dispatch_order(env, site):
    alice, bob = make_user("alice"), make_user("bob")
    a1, a2 = site(alice), site(alice)
    b1 = site(bob)
    urgent = site(bob, priority=5)
    with session_scope() as session:
        estimator = QueueEstimator(session)
        positions = {job_id: estimator.position(session.get(BuildJob, job_id)) for job_id in (a1, a2, b1, urgent)}
    assert positions == {urgent: 1, a1: 2, b1: 3, a2: 4}
    assert start_order(4) == [urgent, a1, b1, a2]


def test_eta_uses_measured_step_durations_and_running_jobs(env, site, one_slot):
    user = make_user()
    # Three finished builds that took 4 s to install and 6 s to build.
    for _ in range(3):
        job_id = site(user)
        assert start_next() == job_id
        with session_scope() as session:
            job = session.get(BuildJob, job_id)
            job.status, job.completed_at = JobStatus.COMPLETED, utcnow()
            job.steps = {"install": {"status": "done", "seconds": 4.0}, "build": {"status": "done", "seconds": 6.0}}
    running = site(user)
    assert start_next() == running
    with session_scope() as session:  # two seconds into its build step: about 4 s left
        job = session.get(BuildJob, running)
        job.current_step = "build"
        job.steps = {"install": {"status": "done", "seconds": 4.0}, "build": {"status": "running", "startedAt": (utcnow() - timedelta(seconds=2)).isoformat()}}
    first, second = site(user), site(user)
    with session_scope() as session:
        shown = {job_id: views.job_detail(session, user, job_id) for job_id in (running, first, second)}
    assert shown[running]["estimatedTimeRemaining"] == 4
    assert (shown[first]["queuePosition"], shown[first]["estimatedStartIn"], shown[first]["estimatedTimeRemaining"]) == (1, 4, 14)
    assert (shown[second]["queuePosition"], shown[second]["estimatedStartIn"], shown[second]["estimatedTimeRemaining"]) == (2, 14, 24)


@pytest.fixture
def default_thresholds(monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_MEMORY_PERCENT", "90")
    monkeypatch.setenv("WEBBUILDER_MAX_CPU_PERCENT", "80")


def test_admission_holds_the_next_job_while_the_host_is_loaded(env, site, monkeypatch, default_thresholds):
    user = make_user()
    job_id = site(user)
    monkeypatch.setattr(psutil_admission, "probe", lambda: psutil_admission.HostLoad(memory_percent=95, cpu_percent=10))
    assert scheduler.claim("test-worker", psutil_admission.check) is None
    with session_scope() as session:
        view = views.job_detail(session, user, job_id)
    assert view["status"] == "queued"
    assert view["currentStep"] == "waiting for resources: memory 95% > 90%"

    monkeypatch.setattr(psutil_admission, "probe", lambda: psutil_admission.HostLoad(memory_percent=50, cpu_percent=97))
    assert scheduler.claim("test-worker", psutil_admission.check) is None
    with session_scope() as session:
        assert views.job_detail(session, user, job_id)["currentStep"] == "waiting for resources: CPU 97% > 80%"

    monkeypatch.setattr(psutil_admission, "probe", lambda: psutil_admission.HostLoad(memory_percent=50, cpu_percent=20))
    assert scheduler.claim("test-worker", psutil_admission.check) == job_id
    with session_scope() as session:
        view = views.job_detail(session, user, job_id)
    assert (view["status"], view["currentStep"]) == ("building", "starting")


def test_admission_reads_cpu_use_without_holding_the_claim():
    """Only a process's first reading samples; later claims read the monitor's latest figure."""
    monitor = psutil_admission.CpuMonitor()
    assert 0 <= monitor.percent() <= 100
    began = time.monotonic()
    readings = [monitor.percent() for _ in range(5)]
    assert time.monotonic() - began < psutil_admission.CPU_SAMPLE_SECONDS
    assert all(0 <= reading <= 100 for reading in readings)


def test_only_the_head_of_the_queue_says_it_waits_for_resources(env, site, monkeypatch, default_thresholds):
    user = make_user()
    head, behind = site(user, priority=1), site(user)
    monkeypatch.setattr(psutil_admission, "probe", lambda: psutil_admission.HostLoad(memory_percent=99, cpu_percent=0))
    scheduler.claim("test-worker", psutil_admission.check)
    urgent = site(user, priority=9)  # a new head: the old one goes back to plain waiting
    scheduler.claim("test-worker", psutil_admission.check)
    with session_scope() as session:
        steps = {job_id: session.get(BuildJob, job_id).current_step for job_id in (head, behind, urgent)}
    assert steps == {urgent: "waiting for resources: memory 99% > 90%", head: "queued", behind: "queued"}


def test_slots_are_a_global_cap(env, site, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_CONCURRENT_BUILDS", "2")
    user = make_user()
    for _ in range(4):
        site(user)
    first, second, third = start_next(), start_next(), start_next()
    assert first and second and third is None
    finish(first)
    assert start_next() is not None


def test_paused_dispatching_starts_nothing_until_resumed(env, site):
    user = make_user()
    job_id = site(user)
    scheduler.set_paused(True)
    assert scheduler.dispatching_paused()
    assert start_next() is None
    scheduler.set_paused(False)
    assert not scheduler.dispatching_paused()
    assert start_next() == job_id


def test_the_fast_pick_is_the_head_of_the_full_order():
    """Claims use `first_in_order`, positions use `order_queue`: they must agree."""
    rng = random.Random(7)
    cfg = settings()
    now = utcnow()
    for _ in range(200):
        queue = [
            scheduler.QueuedJob(n, rng.randrange(4), rng.choice((-5, 0, 0, 5)), now.timestamp() - rng.uniform(0, 1800))
            for n in range(rng.randrange(1, 30))
        ]
        last_start = {user: now.timestamp() - rng.uniform(0, 600) for user in range(4) if rng.random() < 0.6}
        assert scheduler.first_in_order(queue, last_start, now, cfg) == scheduler.order_queue(queue, last_start, now, cfg)[0]
