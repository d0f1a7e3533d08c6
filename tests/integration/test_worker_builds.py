"""A real Dramatiq worker process, woken through Redis, builds real projects."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.helpers import job, make_user
from tests.projects import TYPE_ERROR_APP, react_project, zip_folder
from workers.jobs import intake

pytestmark = pytest.mark.integration


def submit_zip(user_id: int, folder, name: str) -> int:
    archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
    with open(archive, "rb") as stream:
        return intake.accept(user_id, name, [(archive.name, stream)]).job.id


def finished(job_id: int):
    current = job(job_id)
    return current if current.status in ("completed", "failed", "cancelled") else None


def test_worker_builds_good_and_broken_projects(env, tmp_path, processes):
    processes.worker(env)
    user = make_user()
    good = submit_zip(user, react_project(tmp_path / "good"), "Good")
    broken = submit_zip(user, react_project(tmp_path / "broken", **{"src/App.tsx": TYPE_ERROR_APP}), "Broken")

    done = wait_for(lambda: finished(good), timeout=180, what="the good build")
    assert done.status == "completed", done.error
    assert done.preview_url and done.progress == 100

    failed = wait_for(lambda: finished(broken), timeout=180, what="the broken build")
    assert failed.status == "failed"
    assert "TS2322" in failed.error and "src/App.tsx" in failed.error
