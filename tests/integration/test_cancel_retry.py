"""Cancel and retry through the HTTP API, with a real worker process building real projects."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.projects import scripted_project, zip_folder

pytestmark = pytest.mark.integration
# The machine is shared: don't let admission control (CPU/memory of the whole host) hold builds back.
UNTHROTTLED = {"WEBBUILDER_MAX_CPU_PERCENT": "100", "WEBBUILDER_MAX_MEMORY_PERCENT": "100"}
API = "/api/website-builder"


def slow_build(seconds: float, text: str) -> str:
    return (
        "import fs from 'node:fs'\n"
        f"setTimeout(() => {{ fs.mkdirSync('dist'); fs.writeFileSync('dist/index.html', {text!r}) }}, {int(seconds * 1000)})\n"
    )


FAILING_BUILD = "console.error('boom: the build script failed on purpose')\nprocess.exit(1)\n"


class User:
    def __init__(self, client: TestClient, tmp_path: Path):
        self.client, self.tmp_path = client, tmp_path
        response = client.post("/api/auth/register", json={"username": f"u{uuid.uuid4().hex[:8]}", "password": "password123"})
        assert response.status_code == 201, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def upload(self, name: str, build_js: str, *args: str) -> dict:
        folder = scripted_project(self.tmp_path / uuid.uuid4().hex, build_js, *args)
        archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
        with open(archive, "rb") as stream:
            response = self.client.post(f"{API}/upload", headers=self.headers, data={"name": name},
                                        files={"files": (archive.name, stream, "application/zip")})
        assert response.status_code == 202, response.text
        return response.json()["website"]

    def job(self, job_id: int) -> dict:
        response = self.client.get(f"{API}/jobs/{job_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str):
        return self.client.post(f"{API}{path}", headers=self.headers)

    def finished(self, job_id: int) -> dict | None:
        current = self.job(job_id)
        return current if current["status"] in ("completed", "failed", "cancelled") else None

    def notifications(self, job_id: int) -> list[dict]:
        body = self.client.get(f"{API}/user/notifications", headers=self.headers).json()
        return [n for n in body["notifications"] if n["jobId"] == job_id]


@pytest.fixture
def user(env, tmp_path, processes, monkeypatch) -> User:
    """A signed-up user of the API, and one worker process with a single build slot."""
    monkeypatch.setenv("WEBBUILDER_MAX_CONCURRENT_BUILDS", "1")
    processes.worker({**env, **UNTHROTTLED, "WEBBUILDER_MAX_CONCURRENT_BUILDS": "1"})
    from webbuilder_app.api.app import create_api

    with TestClient(create_api()) as client:
        yield User(client, tmp_path)


def running(marker: str) -> bool:
    return any(marker in (p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))


def test_cancelling_a_running_build_stops_it_within_five_seconds(user):
    marker = f"wb-cancel-{uuid.uuid4().hex}"
    job_id = user.upload("Long", slow_build(600, "never"), marker)["buildJobId"]
    wait_for(lambda: user.job(job_id)["status"] == "building" and running(marker), timeout=60, what="the build to run")

    asked = time.monotonic()
    response = user.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    done = wait_for(lambda: user.finished(job_id), timeout=5, what="the cancel to take effect")
    took = time.monotonic() - asked

    assert done["status"] == "cancelled" and done["error"] == "cancelled by the user"
    assert took < 5
    assert not running(marker), "the build's process tree must be gone"
    assert [n["type"] for n in user.notifications(job_id)][0] == "cancelled"


def test_a_cancelled_queued_job_never_starts(user):
    marker = f"wb-block-{uuid.uuid4().hex}"
    blocker = user.upload("Blocker", slow_build(600, "never"), marker)["buildJobId"]
    wait_for(lambda: running(marker), timeout=60, what="the blocker to hold the only slot")
    waiting = user.upload("Waiting", slow_build(0, "should not run"))["buildJobId"]
    assert user.job(waiting)["status"] == "queued"

    response = user.post(f"/jobs/{waiting}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert user.post(f"/jobs/{blocker}/cancel").status_code == 200
    later = user.upload("Later", slow_build(0, "later"))["buildJobId"]
    assert wait_for(lambda: user.finished(later), timeout=60, what="a later job")["status"] == "completed"

    cancelled = user.job(waiting)
    assert cancelled["status"] == "cancelled"
    assert cancelled["startedAt"] is None and cancelled["attempts"] == 0
    assert user.post(f"/jobs/{waiting}/cancel").status_code == 409


def test_retrying_a_failed_build_makes_a_linked_job_that_the_website_follows(user):
    website = user.upload("Broken", FAILING_BUILD)
    first = website["buildJobId"]
    failed = wait_for(lambda: user.finished(first), timeout=60, what="the failing build")
    assert failed["status"] == "failed"
    assert "boom: the build script failed on purpose" in failed["error"]
    [note] = [n for n in user.notifications(first) if n["type"] == "failed"]
    assert note["actionUrl"] == f"/jobs/{first}?retry=1"  # the job page, asking "Retry this build?"

    response = user.post(f"/jobs/{first}/retry")
    assert response.status_code == 202, response.text
    second = response.json()["jobId"]
    assert second != first and response.json()["retryOf"] == first

    status = user.client.get(f"{API}/{website['id']}/build-status", headers=user.headers).json()
    assert status["jobId"] == second and status["retryOf"] == first
    again = wait_for(lambda: user.finished(second), timeout=60, what="the retried build")
    assert again["status"] == "failed" and "boom" in again["error"]  # same files, same outcome

    conflict = user.post(f"/jobs/{second}/cancel")
    assert conflict.status_code == 409 and "already failed" in conflict.json()["message"]


def test_retrying_a_cancelled_build_builds_the_same_files(user):
    marker = f"wb-retry-{uuid.uuid4().hex}"
    website = user.upload("Retried", slow_build(3, "built on retry"), marker)
    first = website["buildJobId"]
    wait_for(lambda: running(marker), timeout=60, what="the first build to run")
    assert user.post(f"/jobs/{first}/cancel").status_code == 200
    assert wait_for(lambda: user.finished(first), timeout=5, what="the cancel")["status"] == "cancelled"

    second = user.post(f"/jobs/{first}/retry").json()["jobId"]
    done = wait_for(lambda: user.finished(second), timeout=60, what="the retried build")

    assert done["status"] == "completed", done["error"]
    status = user.client.get(f"{API}/{website['id']}/build-status", headers=user.headers).json()
    assert status["jobId"] == second and status["status"] == "completed" and status["previewUrl"]
    assert user.post(f"/jobs/{second}/retry").status_code == 409
