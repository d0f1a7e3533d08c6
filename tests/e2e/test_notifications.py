"""The bell: unread count, the panel, marking one or all read, and following a notification."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_up
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e


def test_bell_counts_marks_read_and_follows(app, page, tmp_path):
    archive = zip_folder(static_site(tmp_path / "static", "Notified site"), tmp_path / "static.zip")
    sign_up(page, app, "e2e-bell")
    expect(page.locator("#unread-count")).to_have_count(0)
    page.context.grant_permissions(["notifications"], origin=app.url)
    page.click("#bell")
    page.click("#enable-desktop")
    expect(page.get_by_text("Desktop notifications are on")).to_be_visible()
    page.keyboard.press("Escape")

    page.set_input_files("#project input[type=file]", str(archive))
    page.fill("#site-name", "Bell site")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_url = page.url
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)
    # queued, started, completed: three unread, counted live.
    expect(page.locator("#unread-count")).to_have_text("3")

    page.goto(app.url)
    page.click("#bell")
    items = page.locator("#notification-panel .notification-item")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("Bell site is live")
    expect(items.first).to_contain_text(re.compile(r"seconds ago|a minute ago"))
    expect(page.locator("#notification-panel .unread-dot")).to_have_count(3)

    # Clicking the "queued" one marks it read and opens its job.
    items.filter(has_text="Bell site queued").click()
    page.wait_for_url(job_url)
    expect(page.locator("#unread-count")).to_have_text("2")

    # Clicking the "is live" one opens the site itself.
    page.click("#bell")
    with page.expect_popup() as popup_info:
        page.locator("#notification-panel .notification-item").filter(has_text="Bell site is live").click()
    expect(popup_info.value.get_by_role("heading")).to_have_text("Notified site")
    expect(page.locator("#unread-count")).to_have_text("1")

    page.click("#mark-all-read")
    expect(page.locator("#unread-count")).to_have_count(0)
    expect(page.locator("#notification-panel .unread-dot")).to_have_count(0)
