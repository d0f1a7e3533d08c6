"""Identical uploads of one user: answered at once from their recent build, or attached to their
identical build in progress; never another user's. Static sites keep these builds real and fast (run
in this process)."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import update

from tests.helpers import build_next, job, make_user, queue_project
from tests.projects import static_site
from workers.config import settings
from workers.jobs import build_cache, views
from workers.jobs import lifecycle as jobs
from workers.notify import bell
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


def notes(user_id: int, job_id: int) -> list[str]:
    with session_scope() as session:
        return [n["type"] for n in bell.notifications(session, user_id)["notifications"] if n["jobId"] == job_id]


def site_file(job_id: int):
    return settings().sites_dir / job(job_id).site_slug / "index.html"


def test_fingerprint_covers_paths_and_contents(tmp_path):
    one = static_site(tmp_path / "one", "same")
    two = static_site(tmp_path / "two", "same")
    assert build_cache.fingerprint(one) == build_cache.fingerprint(two)
    (two / "index.html").write_text("<h1>changed</h1>")
    assert build_cache.fingerprint(one).digest != build_cache.fingerprint(two).digest
    (two / "index.html").unlink()
    static_site(tmp_path / "three", "same").joinpath("index.html").rename(tmp_path / "three" / "home.html")
    assert build_cache.fingerprint(one).digest != build_cache.fingerprint(tmp_path / "three").digest


def test_identical_upload_completes_at_once_with_the_same_site(env, tmp_path):
    user = make_user()
    first = queue_project(user, static_site(tmp_path / "a", "cached site"))
    assert job(first).build_cache == "miss"
    assert job(first).build_cache_reason == "no identical upload built in the last 24 h"
    build_next()

    again = queue_project(user, static_site(tmp_path / "b", "cached site"), "Second copy")
    hit = job(again)
    assert hit.status == "completed" and hit.progress == 100
    assert (hit.build_cache, hit.build_cache_reason) == ("hit", "identical upload built just now")
    assert hit.preview_url and hit.site_slug != job(first).site_slug  # its own origin
    assert os.path.samefile(site_file(again), site_file(first))  # hard link, no copy
    assert all(step["cache"] == "hit" for step in hit.steps.values())
    assert notes(user, again) == ["completed"]
    with session_scope() as session:
        view = views.job_detail(session, user, again)
    assert (view["buildCache"], view["currentStep"], view["queuePosition"]) == ("hit", "completed (cache hit)", None)


def test_another_users_identical_upload_builds_on_its_own(env, tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    queue_project(alice, static_site(tmp_path / "a", "same files"))
    first = build_next()

    theirs = queue_project(bob, static_site(tmp_path / "b", "same files"))
    queued = job(theirs)
    assert (queued.status, queued.follows_job_id, queued.build_cache) == ("queued", None, "miss")
    assert queued.build_cache_reason == "no identical upload built in the last 24 h"  # nothing about Alice's
    assert notes(bob, theirs) == ["queued"]
    assert build_next() == theirs
    built = job(theirs)
    assert built.status == "completed" and "cache hit" not in built.logs
    assert not os.path.samefile(site_file(theirs), site_file(first))


def test_another_users_identical_build_in_progress_is_neither_followed_nor_shared(env, tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    leader = queue_project(alice, static_site(tmp_path / "a", "twin"))
    other = queue_project(bob, static_site(tmp_path / "b", "twin"))
    assert (job(other).status, job(other).follows_job_id, job(other).build_cache) == ("queued", None, "miss")
    with session_scope() as session:  # how the pipeline ends a failed build
        failed = session.get(BuildJob, leader)
        failed.status, failed.completed_at = JobStatus.FAILED, utcnow()
        failed.error, failed.logs = "build: vite build failed:\nalice's secret path", "alice's log"
    build_cache.release_followers()
    assert (job(other).status, job(other).error) == ("queued", None)  # Alice's failure is not Bob's

    assert build_next() == other
    built = job(other)
    assert built.status == "completed" and "alice" not in built.logs
    assert "failed" not in notes(bob, other)


def test_builds_older_than_a_day_are_not_reused(env, tmp_path):
    user = make_user()
    queue_project(user, static_site(tmp_path / "a", "old site"))
    old = build_next()
    with session_scope() as session:
        session.exec(update(BuildJob).where(BuildJob.id == old).values(completed_at=utcnow() - timedelta(hours=25)))
    again = job(queue_project(user, static_site(tmp_path / "b", "old site")))
    assert (again.status, again.build_cache) == ("queued", "miss")


def test_identical_upload_follows_the_build_in_progress_and_completes_with_it(env, tmp_path):
    user = make_user()
    leader = queue_project(user, static_site(tmp_path / "a", "twin"))
    follower = queue_project(user, static_site(tmp_path / "b", "twin"))
    waiting = job(follower)
    assert (waiting.status, waiting.follows_job_id, waiting.build_cache) == ("pending", leader, "follow")
    with session_scope() as session:
        view = views.job_detail(session, user, follower)
        leader_eta = views.job_detail(session, user, leader)["estimatedTimeRemaining"]
    assert view["queuePosition"] is None and view["estimatedTimeRemaining"] == leader_eta
    assert view["currentStep"] == "waiting for an identical build"

    assert build_next() == leader  # the follower is never dispatched itself
    done = job(follower)
    assert done.status == "completed" and done.build_cache == "hit"
    assert os.path.samefile(site_file(follower), site_file(leader))
    assert notes(user, follower) == ["completed", "queued"]


def test_follower_fails_with_its_leader(env, tmp_path):
    user = make_user()
    leader = queue_project(user, static_site(tmp_path / "a", "doomed"))
    follower = queue_project(user, static_site(tmp_path / "b", "doomed"))
    with session_scope() as session:  # how the pipeline ends a failed build
        failed = session.get(BuildJob, leader)
        failed.status, failed.completed_at = JobStatus.FAILED, utcnow()
        failed.error, failed.current_step = "build: vite build failed:\nsomething broke", "failed at build"
    build_cache.release_followers()
    lost = job(follower)
    assert (lost.status, lost.error, lost.current_step) == ("failed", "build: vite build failed:\nsomething broke", "failed at build")
    assert notes(user, follower)[0] == "failed"


def test_cancelling_the_leader_leaves_followers_to_build_on_their_own(env, tmp_path):
    user = make_user()
    leader = queue_project(user, static_site(tmp_path / "a", "shared"))
    follower = queue_project(user, static_site(tmp_path / "b", "shared"))
    with session_scope() as session:
        jobs.cancel(session, user, leader)
    build_cache.release_followers()
    detached = job(follower)
    assert (detached.status, detached.follows_job_id, detached.build_cache) == ("queued", None, "miss")
    assert build_next() == follower
    assert job(follower).status == "completed"


def test_cancelling_a_follower_leaves_its_leader_alone(env, tmp_path):
    user = make_user()
    leader = queue_project(user, static_site(tmp_path / "a", "solo"))
    follower = queue_project(user, static_site(tmp_path / "b", "solo"))
    with session_scope() as session:
        jobs.cancel(session, user, follower)
    assert job(follower).status == "cancelled"
    assert build_next() == leader
    assert job(leader).status == "completed" and job(follower).status == "cancelled"
