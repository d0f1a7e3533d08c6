"""Sign up, upload a zip through the page, watch it build live, open the site."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_up
from tests.projects import react_project, zip_folder

pytestmark = pytest.mark.e2e


def test_upload_zip_builds_live_and_site_opens(app, page, tmp_path):
    archive = zip_folder(react_project(tmp_path / "site"), tmp_path / "site.zip")
    sign_up(page, app, "e2e-alice")

    page.set_input_files("#project input[type=file]", str(archive))
    page.fill("#site-name", "My first site")
    page.click("#upload-button")
    expect(page.get_by_text(re.compile(r"Website queued! Position \d+"))).to_be_visible()

    # The upload jumps to the job page; it must change to completed without a reload.
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.locator("#current-step")).to_have_text("completed", timeout=180_000)
    assert navigations == [], "the page reloaded instead of being updated live"

    with page.expect_popup() as popup_info:
        page.locator(".view-website").first.click()
    site = popup_info.value
    expect(site.get_by_test_id("greeting")).to_have_text("Hello from the sample site")
    assert re.match(r"http://[a-f0-9]{20}\.localhost:\d+/", site.url)
    # Its CSS loaded too.
    assert site.get_by_test_id("greeting").evaluate("e => getComputedStyle(e).color") == "rgb(12, 34, 56)"
