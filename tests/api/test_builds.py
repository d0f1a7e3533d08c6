"""Every build endpoint over HTTP, in-process (no worker runs, so jobs stay queued unless cancelled)."""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone

from tests.api.conftest import PASSWORD, auth, sign_up, upload_zip
from tests.helpers import make_user
from tests.projects import react_project

BASE = "/api/website-builder"
JOB_FIELDS = {
    "id", "websiteId", "websiteName", "status", "priority", "progress", "currentStep", "queuePosition",
    "estimatedTimeRemaining", "estimatedCompletionAt", "estimatedStartAt", "createdAt", "startedAt", "completedAt",
    "previewUrl", "error",
}


def test_upload_answers_at_once_with_job_and_position(api, make_zip):
    token = sign_up(api, "alice")
    first = upload_zip(api, token, make_zip("first"), name="First")
    second = upload_zip(api, token, make_zip("second"), name="Second")
    assert first["website"]["name"] == "First" and first["website"]["type"] == "react"
    assert (first["queuePosition"], second["queuePosition"]) == (1, 2)
    assert second["message"] == "Website queued! Position 2"


def test_upload_of_a_folder_as_files(api, tmp_path):
    token = sign_up(api, "alice")
    folder = react_project(tmp_path / "folder")
    files = [("files", (p.relative_to(folder).as_posix(), p.read_bytes())) for p in sorted(folder.rglob("*")) if p.is_file()]
    response = api.post(f"{BASE}/upload", headers=auth(token), data={"name": "Folder"}, files=files)
    assert response.status_code == 202, response.text
    assert response.json()["website"]["type"] == "react"


def test_upload_refusals(api, project_zip, monkeypatch):
    token = sign_up(api, "alice")
    headers = auth(token)

    as_json = api.post(f"{BASE}/upload", headers=headers, json={"name": "x"})
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.json()["message"]
    tarball = api.post(f"{BASE}/upload", headers=headers, data={"name": "x"}, files={"files": ("site.tar.gz", b"\x1f\x8b")})
    assert tarball.status_code == 415 and "Only .zip" in tarball.json()["message"]
    no_files = api.post(f"{BASE}/upload", headers=headers, data={"name": "x"}, files={"other": ("a.txt", b"a")})
    assert no_files.status_code == 400 and "'files'" in no_files.json()["message"]
    not_a_zip = api.post(f"{BASE}/upload", headers=headers, data={"name": "x"}, files={"files": ("p.zip", b"not a zip")})
    assert not_a_zip.status_code in (400, 415) and not_a_zip.json()["message"]
    with open(project_zip, "rb") as stream:
        no_name = api.post(f"{BASE}/upload", headers=headers, data={"name": " "}, files={"files": ("p.zip", stream)})
    assert no_name.status_code == 422 and no_name.json()["message"] == "Give the website a name."
    with open(project_zip, "rb") as stream:
        control = api.post(f"{BASE}/upload", headers=headers, data={"name": "a\x00b"}, files={"files": ("p.zip", stream)})
    assert control.status_code == 422 and "control characters" in control.json()["message"]
    with open(project_zip, "rb") as stream:
        bad_priority = api.post(f"{BASE}/upload", headers=headers, data={"name": "x", "priority": "high"}, files={"files": ("p.zip", stream)})
    assert bad_priority.status_code == 422 and "whole number" in bad_priority.json()["message"]

    monkeypatch.setenv("WEBBUILDER_MAX_UPLOAD_MB", "1")
    big = io.BytesIO(os.urandom(3 * 1024 * 1024))
    too_big = api.post(f"{BASE}/upload", headers=headers, data={"name": "x"}, files={"files": ("big.zip", big)})
    assert too_big.status_code == 413 and "1 MB" in too_big.json()["message"]
    assert api.get(f"{BASE}/user/queue", headers=headers).json()["totalActive"] == 0


def test_users_priority_is_held_to_ten(api, project_zip):
    token = sign_up(api, "alice")
    job_id = upload_zip(api, token, project_zip, priority=99)["website"]["buildJobId"]
    assert api.get(f"{BASE}/jobs/{job_id}", headers=auth(token)).json()["priority"] == 10


def test_an_admin_sets_any_priority_within_a_thousand(api, project_zip):
    make_user("root", admin=True)
    token = api.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    job_id = upload_zip(api, token, project_zip, priority=50)["website"]["buildJobId"]
    assert api.get(f"{BASE}/jobs/{job_id}", headers=auth(token)).json()["priority"] == 50
    with open(project_zip, "rb") as stream:
        too_high = api.post(f"{BASE}/upload", headers=auth(token), data={"name": "x", "priority": "1001"}, files={"files": ("p.zip", stream)})
    assert too_high.status_code == 422 and "between -1000 and 1000" in too_high.json()["message"]


def test_build_status_queue_and_job(api, project_zip):
    token = sign_up(api, "alice")
    uploaded = upload_zip(api, token, project_zip, name="Shop")
    website_id, job_id = uploaded["website"]["id"], uploaded["website"]["buildJobId"]

    status = api.get(f"{BASE}/{website_id}/build-status", headers=auth(token)).json()
    assert JOB_FIELDS <= status.keys()
    assert (status["id"], status["status"], status["queuePosition"], status["websiteName"]) == (job_id, "queued", 1, "Shop")
    assert isinstance(status["logs"], list) and status["estimatedTimeRemaining"] > 0

    queue = api.get(f"{BASE}/user/queue", headers=auth(token)).json()
    assert queue["totalActive"] == 1 and queue["completedJobs"] == []
    assert JOB_FIELDS <= queue["activeJobs"][0].keys() and queue["activeJobs"][0]["id"] == job_id

    detail = api.get(f"{BASE}/jobs/{job_id}", headers=auth(token)).json()
    assert detail["id"] == job_id and detail["websiteId"] == website_id

    assert api.get(f"{BASE}/{website_id + 100}/build-status", headers=auth(token)).status_code == 404
    assert api.get(f"{BASE}/jobs/{job_id + 100}", headers=auth(token)).json()["message"] == "Job not found."
    assert api.get(f"{BASE}/jobs/{2**40}", headers=auth(token)).status_code == 422
    assert api.get(f"{BASE}/jobs/abc", headers=auth(token)).status_code == 422


def test_estimates_come_with_the_times_they_point_at(api, make_zip):
    """A page counts down to these between pushes; they agree with the seconds read at the same time."""
    token = sign_up(api, "alice")
    first = upload_zip(api, token, make_zip("first"))["website"]["buildJobId"]
    second = upload_zip(api, token, make_zip("second"))["website"]["buildJobId"]
    read_at = datetime.now(timezone.utc)
    view = api.get(f"{BASE}/jobs/{second}", headers=auth(token)).json()
    completion = datetime.fromisoformat(view["estimatedCompletionAt"])
    start = datetime.fromisoformat(view["estimatedStartAt"])
    assert abs((completion - read_at).total_seconds() - view["estimatedTimeRemaining"]) < 2
    assert abs((start - read_at).total_seconds() - view["estimatedStartIn"]) < 2
    assert start < completion

    api.post(f"{BASE}/jobs/{first}/cancel", headers=auth(token))
    cancelled = api.get(f"{BASE}/jobs/{first}", headers=auth(token)).json()
    assert (cancelled["estimatedCompletionAt"], cancelled["estimatedStartAt"]) == (None, None)


def test_cancel_then_retry(api, project_zip):
    token = sign_up(api, "alice")
    job_id = upload_zip(api, token, project_zip)["website"]["buildJobId"]

    cancelled = api.post(f"{BASE}/jobs/{job_id}/cancel", headers=auth(token))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"{BASE}/jobs/{job_id}/cancel", headers=auth(token))
    assert again.status_code == 409 and again.json()["message"] == "The job is already cancelled."

    retried = api.post(f"{BASE}/jobs/{job_id}/retry", headers=auth(token))
    assert retried.status_code == 202 and retried.json()["retryOf"] == job_id
    new_id = retried.json()["jobId"]
    queue = api.get(f"{BASE}/user/queue", headers=auth(token)).json()
    assert [j["id"] for j in queue["activeJobs"]] == [new_id]
    assert [(j["id"], j["status"]) for j in queue["completedJobs"]] == [(job_id, "cancelled")]

    queued_retry = api.post(f"{BASE}/jobs/{new_id}/retry", headers=auth(token))
    assert queued_retry.status_code == 409 and "Only failed or cancelled" in queued_retry.json()["message"]


def test_logs_are_plain_text(api, project_zip):
    token = sign_up(api, "alice")
    job_id = upload_zip(api, token, project_zip)["website"]["buildJobId"]
    response = api.get(f"{BASE}/jobs/{job_id}/logs", headers=auth(token))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert api.get(f"{BASE}/jobs/{job_id + 1}/logs", headers=auth(token)).status_code == 404


def test_notifications_read_one_and_all(api, make_zip):
    token = sign_up(api, "alice")
    for name in ("A", "B", "C"):
        upload_zip(api, token, make_zip(name), name=name)
    listed = api.get(f"{BASE}/user/notifications", headers=auth(token)).json()
    assert listed["unreadCount"] == 3
    assert [n["title"] for n in listed["notifications"]] == ["C queued", "B queued", "A queued"]

    first = listed["notifications"][0]["id"]
    assert api.patch(f"{BASE}/user/notifications/{first}/read", headers=auth(token)).json()["updated"] == 1
    assert api.patch(f"{BASE}/user/notifications/{first}/read", headers=auth(token)).json()["updated"] == 0
    assert api.get(f"{BASE}/user/notifications", headers=auth(token)).json()["unreadCount"] == 2
    missing = api.patch(f"{BASE}/user/notifications/{first + 100}/read", headers=auth(token))
    assert missing.status_code == 404 and missing.json()["message"] == "Notification not found."

    assert api.post(f"{BASE}/user/notifications/read-all", headers=auth(token)).json()["updated"] == 2
    assert api.get(f"{BASE}/user/notifications", headers=auth(token)).json()["unreadCount"] == 0


def test_openapi_document_validates_and_lists_every_route(api):
    from openapi_spec_validator import validate

    document = api.get("/api/openapi.json").json()
    validate(document)
    paths = document["paths"]
    for path, method in [
        ("/api/auth/register", "post"), ("/api/auth/login", "post"), ("/api/auth/logout", "post"),
        ("/api/auth/tokens", "get"), ("/api/auth/tokens", "post"), ("/api/auth/tokens/{token_id}", "delete"),
        ("/api/website-builder/upload", "post"), ("/api/website-builder/{website_id}/build-status", "get"),
        ("/api/website-builder/user/queue", "get"), ("/api/website-builder/user/queue/stream", "get"),
        ("/api/website-builder/user/notifications", "get"),
        ("/api/website-builder/user/notifications/{notification_id}/read", "patch"),
        ("/api/website-builder/user/notifications/read-all", "post"),
        ("/api/website-builder/jobs/{job_id}/cancel", "post"), ("/api/website-builder/jobs/{job_id}/retry", "post"),
        ("/api/website-builder/jobs/{job_id}/logs", "get"),
    ]:
        assert method in paths[path], f"{method.upper()} {path} is missing from the OpenAPI document"
    assert "multipart/form-data" in paths["/api/website-builder/upload"]["post"]["requestBody"]["content"]
    docs = api.get("/api/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
