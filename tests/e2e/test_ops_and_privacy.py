"""What admins and other users can see: the ops page, the queue position of a waiting job, and
no trace of one user's jobs for another."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import make_admin, sign_in, sign_up
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def admin_name(app) -> str:
    make_admin(app, "e2e-admin")
    return "e2e-admin"


def test_ops_page_is_for_admins_only(app, page, browser, admin_name):
    sign_up(page, app, "e2e-not-admin")
    expect(page.locator(".nav-link", has_text="Ops")).to_have_count(0)
    page.goto(f"{app.url}/ops")
    expect(page.locator("#ops-forbidden")).to_be_visible()
    expect(page.locator("#cpu-gauge")).to_have_count(0)

    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, app, admin_name)
    admin.locator(".nav-link", has_text="Ops").click()
    admin.wait_for_url(f"{app.url}/ops")
    expect(admin.locator("#cpu-gauge")).to_contain_text("%")
    expect(admin.locator("#memory-gauge")).to_contain_text("GB")
    # The worker process started by the run command beats every few seconds.
    expect(admin.locator("#workers-alive")).not_to_have_text("0", timeout=20_000)
    expect(admin.locator("#queue-chart .recharts-surface")).to_be_visible()
    admin.context.close()


def test_queued_job_shows_position_and_eta_while_dispatch_is_paused(app, page, browser, admin_name, tmp_path):
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, app, admin_name)
    admin.goto(f"{app.url}/ops")
    admin.click("#toggle-dispatch")
    expect(admin.locator("#dispatch-state")).to_have_text("Dispatching is paused")
    try:
        sign_up(page, app, "e2e-waiting")
        page.set_input_files("#project input[type=file]", str(zip_folder(static_site(tmp_path / "s"), tmp_path / "s.zip")))
        page.fill("#site-name", "Waiting site")
        page.click("#upload-button")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        expect(page.locator("#queue-position")).to_have_text("Position 1")
        # Counted down in the browser: a short estimate may already have run out.
        expect(page.locator(".eta")).to_contain_text(re.compile(r"ETA (about \d+ (s|min)|any moment now)"))
        page.goto(app.url)
        card = page.locator("#active-jobs .job-card").filter(has_text="Waiting site")
        expect(card.locator(".queue-position")).to_have_text("Position 1")
        expect(card.locator(".eta")).to_be_visible()
        # The admin sees it in everyone's queue.
        expect(admin.locator("#waiting-builds .ops-job").filter(has_text="e2e-waiting")).to_contain_text("Waiting site")
    finally:
        admin.click("#toggle-dispatch")
        expect(admin.locator("#dispatch-state")).to_have_text("Dispatching is running")
    expect(card).to_have_count(0, timeout=60_000)  # built after the resume, so no longer active
    expect(page.locator("#recent-jobs .job-card").filter(has_text="Waiting site")).to_have_attribute("data-status", "completed")
    admin.context.close()


def test_a_second_user_sees_none_of_the_first_users_jobs(app, page, browser, tmp_path):
    sign_up(page, app, "e2e-owner")
    page.set_input_files("#project input[type=file]", str(zip_folder(static_site(tmp_path / "p"), tmp_path / "p.zip")))
    page.fill("#site-name", "Private site")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    private_job = page.url
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)

    stranger = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_up(stranger, app, "e2e-stranger")
    expect(stranger.locator(".job-card")).to_have_count(0)
    expect(stranger.get_by_text("Private site")).to_have_count(0)
    stranger.goto(private_job)
    expect(stranger.locator("#job-not-found")).to_be_visible()
    expect(stranger.get_by_text("Private site")).to_have_count(0)
    stranger.click("#bell")
    expect(stranger.locator("#notification-panel .notification-item")).to_have_count(0)
    stranger.context.close()
