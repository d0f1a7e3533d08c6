"""Websites over the API: a stable address across redeploys, promote and roll back, auto-publish,
retention (410 and 409), renames, deletion. The builds are static sites built in-process; the
published sites are read through the site server (webbuilder_app/previews.py) by their Host."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.api.conftest import auth, sign_up
from tests.conftest import wait_for
from tests.helpers import build_next, fail_by_reaper, job
from tests.projects import static_site, zip_folder
from workers.config import settings
from workers.jobs import retention
from workers.store.db import session_scope
from workers.store.files import job_dir, website_cache_dir
from workers.store.models import BuildJob, utcnow

pytestmark = pytest.mark.integration  # on PostgreSQL too, in CI
BASE = "/api/website-builder"


@pytest.fixture
def client(env) -> Iterator[TestClient]:
    """The API and the site server, as webbuilder_app.py wraps them."""
    from webbuilder_app.api.app import create_api
    from webbuilder_app.previews import with_previews

    with TestClient(with_previews(create_api())) as test_client:
        yield test_client


@pytest.fixture
def deploy(client, tmp_path):
    """deploy(token, text, website_id=None, **fields) → the upload's website; builds it unless
    build=False. With `refused=<status>`, the refusal's body instead."""
    made = iter(range(1000))

    def run(token: str, text: str, website_id: int | None = None, build: bool = True, name: str = "My Shop",
            refused: int | None = None, **fields) -> dict:
        number = next(made)
        archive = zip_folder(static_site(tmp_path / f"site{number}", text), tmp_path / f"site{number}.zip")
        data = {"name": name, **({"websiteId": str(website_id)} if website_id else {}), **fields}
        with open(archive, "rb") as stream:
            answer = client.post(f"{BASE}/upload", headers=auth(token), data=data, files={"files": ("site.zip", stream, "application/zip")})
        if refused:
            assert answer.status_code == refused, answer.text
            return answer.json()
        assert answer.status_code == 202, answer.text
        if build:
            assert build_next() == answer.json()["website"]["buildJobId"]
        return answer.json()["website"]

    return run


def host_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def fetch(client: TestClient, url: str, path: str = "/"):
    return client.get(path, headers={"Host": host_of(url)}, follow_redirects=False)


def serves(client: TestClient, url: str, text: str) -> bool:
    answer = fetch(client, url)
    return answer.status_code == 200 and text in answer.text


def detail(client: TestClient, token: str, website_id: int) -> dict:
    answer = client.get(f"{BASE}/websites/{website_id}", headers=auth(token))
    assert answer.status_code == 200, answer.text
    return answer.json()["website"]


def test_a_redeploy_keeps_the_address_and_promote_rolls_back_in_place(client, deploy):
    alice = sign_up(client, "alice")
    first = deploy(alice, "version one", message="first cut")
    assert (first["slug"], first["url"]) == ("my-shop", f"http://my-shop.localhost:{settings().preview_port}/")
    site_url = first["url"]
    answer = fetch(client, site_url)
    assert answer.status_code == 200 and "version one" in answer.text
    assert answer.headers["cache-control"] == "no-cache"  # HTML at the stable address: revalidated

    second = deploy(alice, "version two", website_id=first["id"], message="fix the typo")
    assert (second["id"], second["url"]) == (first["id"], site_url)
    wait_for(lambda: serves(client, site_url, "version two"), timeout=5, what="the stable address serving v2")
    v1, v2 = job(first["buildJobId"]), job(second["buildJobId"])
    assert serves(client, v1.preview_url, "version one") and serves(client, v2.preview_url, "version two")  # each its own

    site = detail(client, alice, first["id"])
    assert (site["liveJobId"], site["deploymentCount"], site["autoPublish"]) == (v2.id, 2, True)
    history = [(d["jobId"], d["status"], d["message"], d["live"], d["promotedBy"]) for d in site["deployments"]]
    assert history == [(v2.id, "completed", "fix the typo", True, "auto-publish"), (v1.id, "completed", "first cut", False, "auto-publish")]
    status = client.get(f"{BASE}/{first['id']}/build-status", headers=auth(alice)).json()
    assert (status["jobId"], status["websiteUrl"], status["liveJobId"]) == (v2.id, site_url, v2.id)
    listed = client.get(f"{BASE}/websites", headers=auth(alice)).json()["websites"]
    assert [(w["id"], w["slug"], w["liveJobId"], w["lastStatus"], w["deploymentCount"]) for w in listed] == [(first["id"], "my-shop", v2.id, "completed", 2)]

    rolled = client.post(f"{BASE}/websites/{first['id']}/deployments/{v1.id}/promote", headers=auth(alice))
    assert rolled.status_code == 200 and rolled.json()["website"]["liveJobId"] == v1.id
    wait_for(lambda: serves(client, site_url, "version one"), timeout=5, what="the stable address back on v1")
    by = {d["jobId"]: d["promotedBy"] for d in detail(client, alice, first["id"])["deployments"]}
    assert by == {v1.id: "alice", v2.id: "auto-publish"}

    back = client.post(f"{BASE}/websites/{first['id']}/rollback", headers=auth(alice))  # to the one live before
    assert back.status_code == 200 and back.json()["website"]["liveJobId"] == v2.id
    wait_for(lambda: serves(client, site_url, "version two"), timeout=5, what="the stable address on v2 again")
    notes = client.get(f"{BASE}/user/notifications", headers=auth(alice)).json()["notifications"]
    live_notes = [n for n in notes if n["type"] == "completed"]
    assert live_notes[0]["title"] == f"My Shop is live at {site_url}" and live_notes[0]["actionUrl"] == site_url


def test_with_auto_publish_off_a_build_waits_for_promote_and_failures_change_nothing(client, deploy):
    alice = sign_up(client, "alice")
    first = deploy(alice, "the live one")
    changed = client.patch(f"{BASE}/websites/{first['id']}", headers=auth(alice), json={"autoPublish": False})
    assert changed.status_code == 200 and changed.json()["website"]["autoPublish"] is False

    waiting = deploy(alice, "waiting", website_id=first["id"])
    assert job(waiting["buildJobId"]).status == "completed"
    assert serves(client, first["url"], "the live one")
    assert detail(client, alice, first["id"])["liveJobId"] == first["buildJobId"]
    note = client.get(f"{BASE}/user/notifications", headers=auth(alice)).json()["notifications"][0]
    assert note["title"] == "My Shop is ready to promote" and note["actionUrl"] == f"/websites/{first['id']}"

    cancelled = deploy(alice, "cancelled", website_id=first["id"], build=False)
    assert client.post(f"{BASE}/jobs/{cancelled['buildJobId']}/cancel", headers=auth(alice)).status_code == 200
    failed = deploy(alice, "fails", website_id=first["id"], build=False)
    fail_by_reaper(failed["buildJobId"])
    for not_done in (cancelled["buildJobId"], failed["buildJobId"]):
        refused = client.post(f"{BASE}/websites/{first['id']}/deployments/{not_done}/promote", headers=auth(alice))
        assert refused.status_code == 409 and "Only a completed deployment can go live" in refused.json()["message"]
    assert detail(client, alice, first["id"])["liveJobId"] == first["buildJobId"]
    assert serves(client, first["url"], "the live one")

    promoted = client.post(f"{BASE}/websites/{first['id']}/deployments/{waiting['buildJobId']}/promote", headers=auth(alice))
    assert promoted.status_code == 200
    wait_for(lambda: serves(client, first["url"], "waiting"), timeout=5, what="the promoted deployment live")


def test_retention_keeps_the_newest_and_the_live_and_retired_ones_answer_410_and_409(client, deploy, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_KEEP_DEPLOYMENTS", "2")
    alice = sign_up(client, "alice")
    first = deploy(alice, "v1")
    ids = [first["buildJobId"]] + [deploy(alice, f"v{n}", website_id=first["id"])["buildJobId"] for n in (2, 3)]
    v1, v2, v3 = (job(i) for i in ids)
    assert (v1.retired_at is not None, v2.retired_at, v3.retired_at) == (True, None, None)
    assert not job_dir(v1.id).exists() and not (settings().sites_dir / v1.site_slug).exists()
    gone = fetch(client, v1.preview_url)
    assert gone.status_code == 410 and first["url"] in gone.text  # a page linking to the website
    refused = client.post(f"{BASE}/websites/{first['id']}/deployments/{v1.id}/promote", headers=auth(alice))
    assert refused.status_code == 409 and "retired" in refused.json()["message"]
    assert [d["retired"] for d in detail(client, alice, first["id"])["deployments"]] == [False, False, True]

    # The live deployment keeps its files however old it gets.
    assert client.post(f"{BASE}/websites/{first['id']}/deployments/{v2.id}/promote", headers=auth(alice)).status_code == 200
    v4, v5 = (deploy(alice, f"v{n}", website_id=first["id"]) for n in (4, 5))
    assert detail(client, alice, first["id"])["liveJobId"] == v5["buildJobId"]  # auto-publish moved on
    assert client.post(f"{BASE}/websites/{first['id']}/deployments/{v4['buildJobId']}/promote", headers=auth(alice)).status_code == 200
    assert job(v2.id).retired_at is not None and job(v3.id).retired_at is not None
    assert job(v4["buildJobId"]).retired_at is None and job(v5["buildJobId"]).retired_at is None

    # A failed deployment's folder goes after a week; retrying it then answers 409.
    failed = deploy(alice, "fails", website_id=first["id"], build=False)["buildJobId"]
    fail_by_reaper(failed)
    with session_scope() as session:
        session.exec(update(BuildJob).where(BuildJob.id == failed).values(completed_at=utcnow() - timedelta(days=8)))
    with session_scope() as session:
        assert [j.id for j in retention.sweep(session)] == [failed]
    assert not job_dir(failed).exists()
    retried = client.post(f"{BASE}/jobs/{failed}/retry", headers=auth(alice))
    assert retried.status_code == 409 and "no longer kept" in retried.json()["message"]


def test_a_renamed_address_redirects_and_no_address_is_ever_given_twice(client, deploy):
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    shop = deploy(alice, "alice's shop")
    for bad, status in (("www", 422), ("0123456789abcdef0123", 422), ("Not A Label!", 422), ("-x", 422)):
        answer = client.patch(f"{BASE}/websites/{shop['id']}", headers=auth(alice), json={"slug": bad})
        assert answer.status_code == status, (bad, answer.text)
    renamed = client.patch(f"{BASE}/websites/{shop['id']}", headers=auth(alice), json={"slug": "alices-shop", "name": "Alice's Shop"})
    assert renamed.status_code == 200 and renamed.json()["website"]["slug"] == "alices-shop"
    new_url = renamed.json()["website"]["url"]
    moved = fetch(client, shop["url"], "/menu.html?x=1")
    assert moved.status_code == 308 and moved.headers["location"] == new_url.rstrip("/") + "/menu.html?x=1"
    wait_for(lambda: serves(client, new_url, "alice's shop"), timeout=5, what="the new address")

    bobs = deploy(bob, "bob's shop")  # the same name: the old slug stays Alice's
    assert bobs["slug"] == "my-shop-2"
    taken = client.patch(f"{BASE}/websites/{bobs['id']}", headers=auth(bob), json={"slug": "my-shop"})
    assert taken.status_code == 409 and taken.json()["message"] == 'The address "my-shop" is taken.'
    assert fetch(client, shop["url"]).status_code == 308  # still Alice's redirect
    chosen = deploy(bob, "bob's blog", name="Blog", slug="bobs-blog")
    assert chosen["slug"] == "bobs-blog"
    asked = deploy(bob, "x", name="Blog", slug="alices-shop", refused=409)
    assert asked["message"] == 'The address "alices-shop" is taken.'
    assert deploy(bob, "x", name="Api", slug="api", refused=422)["message"] == '"api" is reserved.'
    assert client.get(f"{BASE}/websites", headers=auth(bob)).json()["websites"][0]["slug"] == "bobs-blog"  # nothing left behind


def test_deleting_a_website_takes_its_addresses_down_and_frees_its_disk(client, deploy):
    alice = sign_up(client, "alice")
    site = deploy(alice, "doomed")
    live = job(site["buildJobId"])
    (website_cache_dir(site["id"]) / "kept").mkdir(parents=True)  # as a build of a Vite project leaves it
    wrong = client.request("DELETE", f"{BASE}/websites/{site['id']}", headers=auth(alice), json={"confirm": "something else"})
    assert wrong.status_code == 422 and serves(client, site["url"], "doomed")
    deleted = client.request("DELETE", f"{BASE}/websites/{site['id']}", headers=auth(alice), json={"confirm": "My Shop"})
    assert deleted.status_code == 204
    wait_for(lambda: fetch(client, site["url"]).status_code == 404, timeout=5, what="the stable address down")
    assert fetch(client, live.preview_url).status_code == 404
    assert not job_dir(live.id).exists() and not (settings().sites_dir / live.site_slug).exists()
    assert not website_cache_dir(site["id"]).exists()
    assert client.get(f"{BASE}/websites/{site['id']}", headers=auth(alice)).status_code == 404
    assert client.get(f"{BASE}/websites", headers=auth(alice)).json()["websites"] == []
    assert deploy(alice, "again")["slug"] == "my-shop-2"  # the deleted website's address is never reused
