"""A build cancelled from its page while it waits in the queue ends at once and never starts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import make_admin, sign_in, sign_up
from tests.e2e.test_failures import upload
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e


def set_dispatching(admin, paused: bool) -> None:
    """Pause or resume from the ops page, as an operator does."""
    wanted = "Dispatching is paused" if paused else "Dispatching is running"
    state = admin.locator("#dispatch-state")
    expect(state).to_be_visible()  # rendered only once the page has read the current state
    if state.inner_text() != wanted:
        admin.click("#toggle-dispatch")
    expect(state).to_have_text(wanted)


def test_cancel_a_queued_build(app, page, browser, tmp_path):
    make_admin(app, "e2e-cancel-admin")
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, app, "e2e-cancel-admin")
    admin.goto(f"{app.url}/ops")
    set_dispatching(admin, paused=True)
    try:
        sign_up(page, app, "e2e-cancel-queued")
        archive = zip_folder(static_site(tmp_path / "waiting", "Cancelled while waiting"), tmp_path / "waiting.zip")
        upload(page, archive, "Waiting site")
        expect(page.locator("#job-view")).to_have_attribute("data-status", "queued")
        page.click("#cancel-job")
        expect(page.locator("#job-view")).to_have_attribute("data-status", "cancelled")
        expect(page.locator("#current-step")).to_have_text("cancelled")
        expect(page.locator("#cancel-job")).to_have_count(0)
        expect(page.locator("#retry-job")).to_be_visible()
        cancelled = page.url
    finally:
        set_dispatching(admin, paused=False)
        admin.context.close()

    # Dispatching runs again and a later upload is built: the cancelled one, older, would have gone first.
    page.goto(app.url)
    upload(page, zip_folder(static_site(tmp_path / "later", "Uploaded after"), tmp_path / "later.zip"), "Later site")
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)
    page.goto(cancelled)
    expect(page.locator("#job-view")).to_have_attribute("data-status", "cancelled")
    expect(page.locator(".step-row[data-status=waiting]")).to_have_count(5)
    expect(page.locator("#log")).to_have_text("No output yet.")
