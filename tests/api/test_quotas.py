"""Per-user quotas through the real API: each refusal's status and message, nothing left behind by a
refused upload, admins exempt, the usage figures, and open event streams counted across processes."""

from __future__ import annotations

import os
import zipfile
from datetime import timedelta

import httpx
import pytest
import redis
from sqlalchemy import update
from sqlmodel import func, select

from tests.api.conftest import PASSWORD, auth, run, serve_api, sign_up, states_signed_in_as, upload_zip
from tests.api.streams import STREAM, StreamReader
from tests.conftest import wait_for
from tests.helpers import make_user
from webbuilder_app.state.usage import UsageState
from workers.config import settings
from workers.jobs import quotas
from workers.store.db import session_scope
from workers.store.models import BuildJob, User, Website, utcnow

BASE = "/api/website-builder"
MIB = 1024 * 1024


def post_zip(api, token: str, archive, name: str = "Site"):
    with open(archive, "rb") as stream:
        return api.post(f"{BASE}/upload", headers=auth(token), data={"name": name}, files={"files": (archive.name, stream)})


def sign_in_admin(api, username: str = "root") -> str:
    make_user(username, admin=True)
    response = api.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def stored() -> tuple[int, int, list[str]]:
    """Websites, jobs, and every file under the data folder's jobs and staging folders."""
    data = settings().data_dir
    files = sorted(str(p.relative_to(data)) for folder in ("jobs", "staging") if (data / folder).exists() for p in (data / folder).rglob("*"))
    with session_scope() as session:
        websites = session.exec(select(func.count()).select_from(Website)).one()
        jobs = session.exec(select(func.count()).select_from(BuildJob)).one()
    return websites, jobs, files


def static_zip(tmp_path, label: str, noise_bytes: int = 0):
    """A static site, with an incompressible file of `noise_bytes` to weigh on the storage quota."""
    path = tmp_path / f"{label}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.html", f"<!doctype html><h1>{label}</h1>")
        if noise_bytes:
            archive.writestr("noise.bin", os.urandom(noise_bytes))
    return path


def test_builds_queued_or_running_are_limited_uploads_and_retries_alike(api, make_zip, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_QUOTA_ACTIVE_BUILDS", "2")
    token = sign_up(api, "alice")
    upload_zip(api, token, make_zip("a"))
    second = upload_zip(api, token, make_zip("b"))["website"]["buildJobId"]
    before = stored()

    third = make_zip("c")
    refused = post_zip(api, token, third)
    assert refused.status_code == 429
    assert refused.json()["message"] == (
        "You have 2 builds queued or running, the most you may have at once (2). Wait for one to finish, or cancel one."
    )
    assert stored() == before  # no website, no job, no file

    assert api.post(f"{BASE}/jobs/{second}/cancel", headers=auth(token)).status_code == 200
    upload_zip(api, token, third)  # back under the limit
    retried = api.post(f"{BASE}/jobs/{second}/retry", headers=auth(token))
    assert retried.status_code == 429 and "2 builds queued or running" in retried.json()["message"]

    admin = sign_in_admin(api)
    for label in ("x", "y", "z"):
        upload_zip(api, admin, make_zip(f"admin-{label}"))


def test_uploads_per_hour_answer_429_with_retry_after(api, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_QUOTA_UPLOADS_PER_HOUR", "2")
    token = sign_up(api, "alice")
    upload_zip(api, token, static_zip(tmp_path, "one"))
    upload_zip(api, token, static_zip(tmp_path, "two"))
    before = stored()

    refused = post_zip(api, token, static_zip(tmp_path, "three"))
    assert refused.status_code == 429
    assert refused.json()["message"].startswith("You uploaded 2 projects in the last hour, the most allowed (2 an hour). Try again in ")
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert stored() == before

    # The first upload leaves the window: one place frees up, and Retry-After counts to the second.
    with session_scope() as session:
        first = session.exec(select(Website).order_by(Website.id)).first()
        session.exec(update(Website).where(Website.id == first.id).values(created_at=utcnow() - timedelta(minutes=61)))
        session.exec(update(Website).where(Website.id != first.id).values(created_at=utcnow() - timedelta(minutes=50)))
    upload_zip(api, token, static_zip(tmp_path, "three"))
    again = post_zip(api, token, static_zip(tmp_path, "four"))
    assert again.status_code == 429 and 500 < int(again.headers["Retry-After"]) <= 600

    assert sign_up(api, "bob") and upload_zip(api, sign_in_admin(api), static_zip(tmp_path, "admin"))  # others unaffected


def test_storage_quota_answers_413_and_the_usage_shows_used_of_allowed(api, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_QUOTA_STORAGE_MB", "1")
    token = sign_up(api, "alice")
    upload_zip(api, token, static_zip(tmp_path, "first", noise_bytes=600_000))
    usage = api.get(f"{BASE}/user/usage", headers=auth(token)).json()
    assert usage["storageAllowedBytes"] == MIB
    assert 600_000 < usage["storageUsedBytes"] < 601_000
    before = stored()

    refused = post_zip(api, token, static_zip(tmp_path, "second", noise_bytes=600_000))
    assert refused.status_code == 413
    assert refused.json()["message"] == (
        "This upload (586.0 KB) would take your storage past your allowance: 586.0 KB of 1.0 MB used. Nothing was queued."
    )
    assert stored() == before
    upload_zip(api, token, static_zip(tmp_path, "small"))  # a small one still fits

    admin = sign_in_admin(api)
    assert upload_zip(api, admin, static_zip(tmp_path, "big", noise_bytes=2 * MIB))
    admin_usage = api.get(f"{BASE}/user/usage", headers=auth(admin)).json()
    assert admin_usage["storageUsedBytes"] > 2 * MIB
    assert (admin_usage["storageAllowedBytes"], admin_usage["activeBuildsAllowed"], admin_usage["uploadsPerHourAllowed"]) == (None, None, None)


def test_usage_answers_only_the_signed_in_user(api, tmp_path):
    assert api.get(f"{BASE}/user/usage").status_code == 401
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    upload_zip(api, alice, static_zip(tmp_path, "alice", noise_bytes=10_000))
    mine, theirs = (api.get(f"{BASE}/user/usage", headers=auth(t)).json() for t in (alice, bob))
    assert mine["storageUsedBytes"] > 10_000 and mine["activeBuilds"] == 1 and mine["uploadsLastHour"] == 1
    assert (theirs["storageUsedBytes"], theirs["activeBuilds"], theirs["uploadsLastHour"]) == (0, 0, 0)
    assert (mine["activeBuildsAllowed"], mine["uploadsPerHourAllowed"], mine["eventStreamsAllowed"]) == (20, 60, 10)


@pytest.fixture
def two_apis(env, processes, tmp_path, monkeypatch):
    """Two API processes on the same database and Redis, as two web processes behind one port."""
    monkeypatch.setenv("WEBBUILDER_QUOTA_EVENT_STREAMS", "2")
    return serve_api(env, processes, tmp_path, "api-1.log"), serve_api(env, processes, tmp_path, "api-2.log")


def open_streams(redis_url: str, username: str) -> int:
    """The leases Redis holds for the user's open streams."""
    with session_scope() as session:
        user_id = session.exec(select(User.id).where(User.username == username)).one()
    return redis.Redis.from_url(redis_url).zcard(quotas.streams_key(user_id))


def test_open_event_streams_are_counted_across_web_processes_and_released(two_apis, env):
    first, second = two_apis
    token = sign_up(first.client(), "alice")
    readers = [StreamReader(first, token), StreamReader(second, token)]
    for reader in readers:
        reader.next_event(lambda e: e.event == "ready")

    with second.client(token) as client:
        refused = client.get(STREAM)
    assert refused.status_code == 429
    assert refused.json()["message"] == (
        "You have 2 event streams open, the most allowed at once. Close one (another tab, script or "
        "`webbuilder submit --wait`) and try again."
    )

    readers[0].close()  # its server notices at its next write (a heartbeat, 1 s here) and lets go

    def accepted() -> StreamReader | None:
        reader = StreamReader(second, token)
        try:
            reader.next_event(lambda e: e.event == "ready", timeout=2)
            return reader
        except AssertionError:
            reader.close()
            return None

    wait_for(accepted, timeout=15, interval=0.5, what="a freed place for a new stream").close()
    readers[1].close()
    wait_for(lambda: open_streams(env["REDIS_URL"], "alice") == 0, timeout=15, what="every lease released")


def test_admins_open_as_many_streams_as_they_like(two_apis, env):
    first, _ = two_apis
    make_user("root", admin=True)
    token = httpx.post(f"{first.url}/api/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    readers = [StreamReader(first, token) for _ in range(3)]
    for reader in readers:
        reader.next_event(lambda e: e.event == "ready")
    assert open_streams(env["REDIS_URL"], "root") == 0  # nothing counted
    for reader in readers:
        reader.close()


async def storage_line(token: str | None) -> tuple[str, str, int]:
    """What the queue page's storage line shows to the tab signed in with `token`."""
    usage = await (await states_signed_in_as(token)).get_state(UsageState)
    await UsageState.refresh.fn(usage)
    return usage.storage_used, usage.storage_allowed, usage.storage_percent


def test_the_queue_page_shows_the_tabs_own_storage_used_of_allowed(api, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_QUOTA_STORAGE_MB", "1")
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    upload_zip(api, alice, static_zip(tmp_path, "site", noise_bytes=300_000))
    assert run(storage_line(alice)) == ("293.0 KB", "1.0 MB", 29)
    assert run(storage_line(bob)) == ("0 B", "1.0 MB", 0)
    assert run(storage_line(None)) == ("", "", 0)  # no session: nothing read
    assert run(storage_line(sign_in_admin(api))) == ("0 B", "", 0)  # no limit
