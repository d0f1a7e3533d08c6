"""Every job that ends gets exactly one final notice in the bell, and `notification_sent` says so:
however it ended, and also when a path ended it without one (the maintenance sweep sends it)."""

from __future__ import annotations

from tests.helpers import build_next, fail_by_reaper, job, make_user, queue_project
from tests.projects import static_site
from workers.jobs import reaper
from workers.notify import bell
from workers.services import auth, builds
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


def final_notices(user_id: int, job_id: int) -> list[str]:
    with session_scope() as session:
        notes = bell.notifications(session, user_id)["notifications"]
    return [n["type"] for n in notes if n["jobId"] == job_id and n["type"] in bell.FINAL_KINDS]


def test_each_way_a_job_ends_sends_its_final_notice_once(env, tmp_path):
    user = make_user()
    built = queue_project(user, static_site(tmp_path / "built", "built"))
    assert build_next() == built
    reaped = queue_project(user, static_site(tmp_path / "reaped", "reaped"))
    fail_by_reaper(reaped)
    cancelled = queue_project(user, static_site(tmp_path / "cancelled", "cancelled"))
    builds.cancel(auth.account(user), cancelled)
    for job_id, kind in ((built, "completed"), (reaped, "failed"), (cancelled, "cancelled")):
        assert final_notices(user, job_id) == [kind]
        assert job(job_id).notification_sent is True
    reaper.maintain()  # nothing missing: nothing sent twice
    assert [final_notices(user, job_id) for job_id in (built, reaped, cancelled)] == [["completed"], ["failed"], ["cancelled"]]


def test_the_sweep_sends_a_final_notice_that_was_never_written(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, static_site(tmp_path / "silent"))
    with session_scope() as session:  # ended by a path that wrote no notice
        ended = session.get(BuildJob, job_id)
        ended.status, ended.completed_at, ended.error = JobStatus.FAILED, utcnow(), "build: the disk broke"
    reaper.maintain()
    assert final_notices(user, job_id) == ["failed"]
    assert job(job_id).notification_sent is True
    reaper.maintain()
    assert final_notices(user, job_id) == ["failed"]
