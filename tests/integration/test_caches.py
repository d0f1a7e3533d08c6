"""Caches with a real worker process: dependency reuse by lockfile, identical re-uploads answered at
once, and an identical upload attached to the build in progress."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for
from tests.helpers import job, make_user
from tests.projects import react_project, static_site, zip_folder
from workers.config import settings
from workers.jobs import intake, views
from workers.jobs.lifecycle import Deployment
from workers.notify import bell
from workers.queue import scheduler
from workers.store.db import session_scope

pytestmark = pytest.mark.integration


def upload(user_id: int, folder, name: str, website_id: int | None = None) -> int:
    """Upload `folder` as a new website called `name`, or as a new deployment of `website_id`."""
    archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
    with open(archive, "rb") as stream:
        return intake.accept(user_id, name, [(archive.name, stream)], 0, Deployment(website_id)).job.id


def view(user_id: int, job_id: int) -> dict:
    with session_scope() as session:
        return views.job_detail(session, user_id, job_id)


def finished(user_id: int, job_id: int) -> dict:
    return wait_for(lambda: (v := view(user_id, job_id))["status"] in ("completed", "failed", "cancelled") and v, timeout=240, what=f"job {job_id}")


def published(job_view: dict) -> str:
    slug = job_view["previewUrl"].split("//", 1)[1].split(".", 1)[0]
    return (settings().sites_dir / slug / "index.html").read_text()


def with_renamed_lockfile(folder):
    """Same dependencies, a different lockfile (as after `npm install` of anything)."""
    for name in ("package.json", "package-lock.json"):
        data = json.loads((folder / name).read_text())
        data["name"] = "react-ts-sample-renamed"
        if name == "package-lock.json":
            data["packages"][""]["name"] = "react-ts-sample-renamed"
        (folder / name).write_text(json.dumps(data, indent=2))
    return folder


def test_dependency_cache_and_build_cache_across_uploads(env, tmp_path, processes):
    processes.worker(env)
    user = make_user()

    first = finished(user, upload(user, react_project(tmp_path / "v1"), "Shop"))
    assert first["status"] == "completed", first["error"]
    assert (first["steps"]["install"]["cache"], first["steps"]["install"]["cacheReason"]) == ("miss", "first build of this lockfile")
    assert first["buildCache"] == "miss"

    # The very same files again: completed when the upload returns, with a site of its own.
    again_id = upload(user, react_project(tmp_path / "v1-again"), "Shop")
    again = view(user, again_id)
    assert (again["status"], again["buildCache"]) == ("completed", "hit")
    assert again["previewUrl"] != first["previewUrl"]
    assert published(again) == published(first)

    # New source, same lockfile: dependencies come from the cache.
    edited = finished(user, upload(user, react_project(tmp_path / "v2", **{"src/extra.ts": "export const x = 2\n"}), "Shop"))
    assert edited["status"] == "completed", edited["error"]
    assert edited["steps"]["install"]["cache"] == "hit"
    with session_scope() as session:
        assert "dependencies restored from cache" in views.full_log(session, user, edited["id"])

    # A changed lockfile is a miss, and says why (judged from the website's previous deployment).
    relocked = finished(user, upload(user, with_renamed_lockfile(react_project(tmp_path / "v3")), "Shop", edited["websiteId"]))
    assert relocked["status"] == "completed", relocked["error"]
    assert (relocked["steps"]["install"]["cache"], relocked["steps"]["install"]["cacheReason"]) == ("miss", "lockfile changed since the last build")


def test_identical_upload_during_a_build_finishes_with_it(env, tmp_path, processes):
    user = make_user()
    scheduler.set_paused(True)  # hold the first build in the queue while the twin arrives
    leader = upload(user, static_site(tmp_path / "a", "twins"), "Original")
    follower = upload(user, static_site(tmp_path / "b", "twins"), "Twin")
    assert (view(user, follower)["status"], view(user, follower)["followsJobId"]) == ("pending", leader)

    processes.worker(env)
    scheduler.set_paused(False)
    assert finished(user, leader)["status"] == "completed"
    twin = finished(user, follower)
    assert (twin["status"], twin["buildCache"]) == ("completed", "hit")
    assert "twins" in published(twin)
    with session_scope() as session:
        kinds = [n["type"] for n in bell.notifications(session, user)["notifications"] if n["jobId"] == follower]
    assert kinds == ["completed", "queued"]
    assert job(leader).attempts == 1 and job(follower).attempts == 0  # built once
