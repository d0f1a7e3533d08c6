"""Upload by zip and by folder, watch the build live in every tab of the user, open the site."""

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
    # A second tab of the same user, left on the queue: it must follow the build too.
    queue_tab = page.context.new_page()
    queue_tab.goto(app.url)
    expect(queue_tab.locator("#active-heading")).to_have_text("Active Builds (0)")

    page.set_input_files("#project input[type=file]", str(archive))
    expect(page.locator("#selection")).to_have_text("site.zip")
    page.fill("#site-name", "My first site")
    page.click("#upload-button")
    expect(page.get_by_text(re.compile(r"Website queued! Position \d+"))).to_be_visible()

    # The upload jumps to the job page; it must change to completed without a reload.
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=180_000)
    assert navigations == [], "the page reloaded instead of being updated live"
    # The timeline shows every step done with its duration, and the install's cache outcome.
    expect(page.locator(".step-row[data-status=done]")).to_have_count(5)
    expect(page.locator(".step-row[data-step=install] .cache-badge")).to_contain_text(re.compile("cache (hit|miss)"))
    expect(page.locator("#log")).to_contain_text("publish: done")
    # The completion toast, with its View action.
    toast = page.locator("[data-sonner-toast]").filter(has_text="My first site is live")
    expect(toast).to_be_visible()
    expect(toast.get_by_role("button", name="View")).to_be_visible()

    card = queue_tab.locator(".job-card").filter(has_text="My first site")
    expect(card).to_have_attribute("data-status", "completed")
    expect(queue_tab.locator("#active-heading")).to_have_text("Active Builds (0)")

    with page.expect_popup() as popup_info:
        page.locator(".view-website").first.click()
    site = popup_info.value
    expect(site.get_by_test_id("greeting")).to_have_text("Hello from the sample site")
    assert re.match(r"http://[a-f0-9]{20}\.localhost:\d+/", site.url)
    # Its CSS loaded too.
    assert site.get_by_test_id("greeting").evaluate("e => getComputedStyle(e).color") == "rgb(12, 34, 56)"


def test_upload_folder_keeps_its_structure(app, page, tmp_path):
    folder = react_project(tmp_path / "folder-site", **{"public/nested/note.txt": "picked as a folder"})
    sign_up(page, app, "e2e-folder")
    with page.expect_file_chooser() as chooser:
        page.click("#pick-folder")
    chooser.value.set_files(str(folder))
    expect(page.locator("#selection")).to_have_text(re.compile(r"\d+ files from folder folder-site"))
    page.fill("#site-name", "Folder site")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    # A flattened folder could not type-check or build: completing proves src/ arrived as src/.
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=180_000)
    with page.expect_popup() as popup_info:
        page.locator(".view-website").first.click()
    site = popup_info.value
    expect(site.get_by_test_id("greeting")).to_have_text("Hello from the sample site")
    site.goto(site.url + "nested/note.txt")
    expect(site.locator("body")).to_have_text("picked as a folder")
