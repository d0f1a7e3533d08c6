"""The ops page's numbers: queue depth and durations over time, cache hit rate, every user's queue."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import make_user
from workers.ops import dashboard as ops
from workers.queue import heartbeats
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, Website, utcnow


def _job(session, user_id: int, status: str, created, started=None, done=None, cache=None, build_cache=None) -> BuildJob:
    website = Website(user_id=user_id, name=f"site {status}")
    session.add(website)
    session.flush()
    job = BuildJob(website_id=website.id, user_id=user_id, status=status, created_at=created, started_at=started,
                   completed_at=done, steps={"install": {"cache": cache}} if cache else None, build_cache=build_cache)
    session.add(job)
    session.flush()
    return job


def test_history_counts_queue_depth_durations_and_cache_hits(env):
    alice, bob = make_user("alice"), make_user("bob")
    now = utcnow()
    with session_scope() as session:
        _job(session, alice, JobStatus.COMPLETED, now - timedelta(minutes=20), now - timedelta(minutes=12), now - timedelta(minutes=11), "miss")
        _job(session, alice, JobStatus.COMPLETED, now - timedelta(minutes=9), now - timedelta(minutes=8), now - timedelta(minutes=7, seconds=30), "hit")
        _job(session, bob, JobStatus.QUEUED, now - timedelta(minutes=3))
        stats = ops.history(session, "hour", now=now)
    buckets = stats["buckets"]
    assert len(buckets) == 12
    assert buckets[-1]["queued"] == 1  # bob's job waits now
    assert buckets[-3]["queued"] == 0
    # The first build waited 8 minutes: it was in the queue at the end of the bucket 15 minutes ago.
    assert buckets[-4]["queued"] == 1
    assert [b["completed"] for b in buckets].count(1) == 2
    assert sorted(b["buildSeconds"] for b in buckets if b["completed"]) == [30.0, 60.0]
    assert (stats["cacheHits"], stats["cacheLookups"], stats["cacheHitPercent"]) == (1, 2, 50)


def test_build_cache_hit_rate_counts_finished_jobs_an_identical_build_answered(env):
    alice = make_user("alice")
    now = utcnow()

    def ago(minutes: int):
        return now - timedelta(minutes=minutes)

    with session_scope() as session:
        _job(session, alice, JobStatus.COMPLETED, ago(30), ago(29), ago(25), "miss", build_cache="miss")
        # Answered by the build cache: their steps are their source's, marked "hit", and no dependency-cache lookup.
        _job(session, alice, JobStatus.COMPLETED, ago(28), ago(25), ago(25), "hit", build_cache="follow")
        _job(session, alice, JobStatus.FAILED, ago(27), None, ago(20), "miss", build_cache="follow")
        _job(session, alice, JobStatus.COMPLETED, ago(20), ago(20), ago(20), "hit", build_cache="hit")
        # Not counted: cancelled (nothing answered it), still waiting on its leader, finished before the window.
        _job(session, alice, JobStatus.CANCELLED, ago(10), None, ago(9), build_cache="miss")
        _job(session, alice, JobStatus.PENDING, ago(5), build_cache="follow")
        _job(session, alice, JobStatus.COMPLETED, ago(90), ago(90), ago(90), "hit", build_cache="hit")
        stats = ops.history(session, "hour", now=now)
    assert (stats["buildCacheHits"], stats["buildsFinished"], stats["buildCacheHitPercent"]) == (3, 4, 75)
    assert (stats["cacheHits"], stats["cacheLookups"], stats["cacheHitPercent"]) == (0, 1, 0)


def test_hit_rates_are_unknown_in_an_empty_window(env):
    with session_scope() as session:
        stats = ops.history(session, "day")
    assert stats["cacheHitPercent"] is None and stats["buildCacheHitPercent"] is None
    assert stats["buildsFinished"] == 0


def test_active_jobs_lists_every_users_jobs_with_owner_running_first(env):
    alice, bob = make_user("alice"), make_user("bob")
    now = utcnow()
    with session_scope() as session:
        _job(session, alice, JobStatus.QUEUED, now - timedelta(minutes=2))
        _job(session, bob, JobStatus.BUILDING, now - timedelta(minutes=1), now)
        _job(session, bob, JobStatus.COMPLETED, now - timedelta(minutes=5), now - timedelta(minutes=4), now)
        jobs = ops.active_jobs(session)
    assert [(j["username"], j["status"]) for j in jobs] == [("bob", "building"), ("alice", "queued")]
    assert jobs[1]["queuePosition"] == 1
    assert ops.per_user(jobs) == [{"username": "alice", "queued": 1, "building": 0}, {"username": "bob", "queued": 0, "building": 1}]


def test_workers_alive_reads_the_heartbeats(env):
    assert heartbeats.workers_alive() == []
    heartbeats.beat()
    (worker,) = heartbeats.workers_alive()
    assert worker["pid"] > 0 and worker["seenAt"]
