"""However a build fails, its notification leads to the retry: the job page asking "Retry this
build?" (the bell and the API's `actionUrl` alike)."""

from __future__ import annotations

from tests.helpers import build_next, fail_by_reaper, job, make_user, queue_project
from tests.projects import scripted_project, static_site
from workers.jobs import build_cache
from workers.notify import bell
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


def failed_notification_action(user_id: int, job_id: int) -> str:
    with session_scope() as session:
        [note] = [n for n in bell.notifications(session, user_id)["notifications"] if n["jobId"] == job_id and n["type"] == "failed"]
    return note["actionUrl"]


def test_a_build_that_fails_in_the_pipeline(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "broken", "process.exit(3)\n"))
    assert build_next() == job_id and job(job_id).status == "failed"
    assert failed_notification_action(user, job_id) == f"/jobs/{job_id}?retry=1" == bell.retry_action_url(job_id)


def test_an_upload_that_followed_a_failed_build(env, tmp_path):
    user = make_user()
    leader = queue_project(user, static_site(tmp_path / "a", "doomed"))
    follower = queue_project(user, static_site(tmp_path / "b", "doomed"))
    with session_scope() as session:  # how the pipeline ends a failed build
        failed = session.get(BuildJob, leader)
        failed.status, failed.completed_at, failed.error = JobStatus.FAILED, utcnow(), "build: failed"
    build_cache.release_followers()
    assert failed_notification_action(user, follower) == bell.retry_action_url(follower)


def test_a_job_that_killed_its_worker_too_often(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, static_site(tmp_path / "dies"))
    fail_by_reaper(job_id)
    assert failed_notification_action(user, job_id) == bell.retry_action_url(job_id)
