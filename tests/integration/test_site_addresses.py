"""Two web processes share the database and Redis: a promote made through one is served at the
stable address by the other within a second or so (its cached lookup is dropped by the notice, not
by the entry's 30 s expiry)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.conftest import auth, serve_api, sign_up
from tests.conftest import wait_for
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.integration
BASE = "/api/website-builder"
SITE_SERVER = "tests.api.site_server:create_app"


def upload(api: httpx.Client, token: str, folder, **fields) -> dict:
    archive = zip_folder(folder, folder.with_suffix(".zip"))
    with open(archive, "rb") as stream:
        answer = api.post(f"{BASE}/upload", headers=auth(token), data={"name": "Shop", **fields},
                          files={"files": ("site.zip", stream, "application/zip")})
    assert answer.status_code == 202, answer.text
    return answer.json()["website"]


def test_a_promote_through_one_process_is_served_by_the_other_at_once(env, processes, tmp_path):
    one = serve_api(env, processes, tmp_path, "web-1.log", SITE_SERVER)
    other = serve_api(env, processes, tmp_path, "web-2.log", SITE_SERVER)
    processes.worker(env)
    api = httpx.Client(base_url=one.url, timeout=30)
    token = sign_up(api, "alice")
    first = upload(api, token, static_site(tmp_path / "v1", "version one"))
    second = upload(api, token, static_site(tmp_path / "v2", "version two"), websiteId=str(first["id"]))
    host = {"Host": first["url"].split("://")[1].rstrip("/")}

    def served_by_other() -> str:
        answer = httpx.get(other.url, headers=host, timeout=5)
        return answer.text if answer.status_code == 200 else ""

    def status(job_id: int) -> str:
        return api.get(f"{BASE}/jobs/{job_id}", headers=auth(token)).json()["status"]

    wait_for(lambda: status(second["buildJobId"]) == "completed", timeout=60, what="v2 built")
    wait_for(lambda: "version two" in served_by_other(), timeout=10, what="v2 at the stable address")  # now cached there
    promoted = api.post(f"{BASE}/websites/{first['id']}/deployments/{first['buildJobId']}/promote", headers=auth(token))
    assert promoted.status_code == 200
    began = time.monotonic()
    wait_for(lambda: "version one" in served_by_other(), timeout=5, what="the other process serving the rollback")
    assert time.monotonic() - began < 5
