"""The queue page shows the user's storage used of their allowance."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.e2e.conftest import sign_in
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e


def test_the_queue_page_shows_storage_used_of_allowed(app, page, tmp_path):
    with app.api() as api:
        token = api.post("/api/auth/register", json={"username": "e2e-storage", "password": "password123"}).json()["token"]
    sign_in(page, app, "e2e-storage")
    expect(page.locator("#storage-usage")).to_have_text("Storage: 0 B of 2.0 GB used")

    site = static_site(tmp_path / "site", "storage")
    (site / "noise.bin").write_bytes(b"\x00" * 50_000)
    archive = zip_folder(site, tmp_path / "site.zip")
    with app.api(token) as api, open(archive, "rb") as stream:
        answer = api.post("/api/website-builder/upload", data={"name": "Storage"}, files={"files": ("site.zip", stream)})
        website = answer.json()["website"]["id"]
        wait_for(lambda: api.get(f"/api/website-builder/{website}/build-status").json()["status"] == "completed",
                 timeout=120, what="the build")
    page.reload()
    # The upload's source and its published copy.
    expect(page.locator("#storage-usage")).to_have_text("Storage: 97.8 KB of 2.0 GB used")
