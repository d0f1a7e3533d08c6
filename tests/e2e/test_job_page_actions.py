"""The job page beyond the live view: a failed build's notification opens its retry, the whole log
downloads, and a waiting job's ETA counts down in the browser between pushes; an admin's upload form
takes any priority."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp, make_admin, sign_in, sign_up
from tests.projects import TYPE_ERROR_APP, react_project, static_site, zip_folder

pytestmark = pytest.mark.e2e

JOB_PAGE = re.compile(r"/jobs/(\d+)$")
ETA_TEXT = re.compile(r"ETA (about \d+ (s|min)|any moment now)$")


def upload(page: Page, archive, name: str) -> int:
    page.set_input_files("#project input[type=file]", str(archive))
    page.fill("#site-name", name)
    page.click("#upload-button")
    page.wait_for_url(JOB_PAGE)
    return int(JOB_PAGE.search(page.url).group(1))


def test_a_failed_build_downloads_its_full_log_and_its_notification_opens_the_retry(app, page, tmp_path):
    archive = zip_folder(react_project(tmp_path / "broken", **{"src/App.tsx": TYPE_ERROR_APP}), tmp_path / "broken.zip")
    sign_up(page, app, "e2e-retry-note")
    failed_id = upload(page, archive, "Failing site")
    expect(page.locator("#current-step")).to_have_text("failed at typecheck", timeout=180_000)

    # The whole log, from its first line to the compiler's error, as a file.
    with page.expect_download() as download_info:
        page.click("#download-log")
    download = download_info.value
    assert download.suggested_filename == f"job-{failed_id}.log"
    full_log = Path(download.path()).read_text(encoding="utf-8")
    assert "error TS2322" in full_log
    assert page.locator("#log .log-line").first.inner_text() in full_log

    # Followed from the bell, the failed build's notification asks whether to retry it.
    page.click("#bell")
    page.locator("#notification-panel .notification-item").filter(has_text="Failing site failed to build").click()
    page.wait_for_url(f"{app.url}/jobs/{failed_id}?retry=1")
    dialog = page.locator("#retry-dialog")
    expect(dialog).to_contain_text("Retry this build?")
    expect(dialog).to_contain_text("type check failed")
    page.click("#retry-not-now")
    expect(dialog).to_have_count(0)
    # It only asks: reloading the page asks again, and nothing was queued meanwhile.
    page.reload()
    expect(dialog).to_be_visible()
    assert page.url == f"{app.url}/jobs/{failed_id}?retry=1"

    page.click("#retry-confirm")
    page.wait_for_url(JOB_PAGE)
    retry_id = int(JOB_PAGE.search(page.url).group(1))
    assert retry_id != failed_id
    expect(page.get_by_text("Retry queued")).to_be_visible()
    retry_of = page.locator("#retry-of")
    expect(retry_of).to_have_text(f"Retry of #{failed_id}")
    expect(retry_of).to_have_attribute("href", f"/jobs/{failed_id}")
    expect(page.locator("#retry-dialog")).to_have_count(0)
    # The same files fail the same way; then the queue holds the two builds, no duplicate.
    expect(page.locator("#job-view")).to_have_attribute("data-status", "failed", timeout=180_000)
    page.goto(app.url)
    expect(page.locator(".job-card")).to_have_count(2)


def toggle_dispatching(admin: Page, state: str) -> None:
    admin.click("#toggle-dispatch")
    expect(admin.locator("#dispatch-state")).to_have_text(f"Dispatching is {state}")


def seconds_in(eta: str) -> int:
    return int(re.search(r"(\d+) s$", eta).group(1))


def eta_change_without_push(page: Page, pushed: list, timeout: float) -> tuple[str, str]:
    """The ETA text before and after it changed while no new estimate came from the server. A push
    (the upload's own notices, settling) starts the watch again."""
    eta, deadline = page.locator(".eta"), time.monotonic() + timeout

    def shown() -> str | None:  # None while the time is being drawn (react-moment mounts empty)
        text = eta.inner_text()
        return text if ETA_TEXT.search(text) else None

    while time.monotonic() < deadline:
        pushes = len(pushed)
        before = after = shown()
        while after in (before, None) and len(pushed) == pushes and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            after = shown()
        page.wait_for_timeout(500)  # a frame that changed the text is reported by now
        if before and after and after != before and len(pushed) == pushes:
            return before, after
    raise AssertionError(f"the ETA did not change by itself within {timeout} s")


def test_a_waiting_jobs_eta_counts_down_between_pushes(app, page, browser, tmp_path):
    """Dispatching paused: nothing moves, so the server has nothing to push; the ETA still counts.
    The browser's clock runs 20 s behind the server's, so that even a static site's estimate of a
    second or so leaves seconds to count down."""
    make_admin(app, "e2e-countdown-admin")
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, app, "e2e-countdown-admin")
    admin.goto(f"{app.url}/ops")
    pushed_estimates = []  # frames from the server that carry an estimate
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda frame: pushed_estimates.append(frame) if "estimatedCompletionAt" in str(frame) else None))
    page.clock.install(time=datetime.now(timezone.utc) - timedelta(seconds=20))
    sign_up(page, app, "e2e-countdown")
    toggle_dispatching(admin, "paused")
    try:
        upload(page, zip_folder(static_site(tmp_path / "waiting"), tmp_path / "waiting.zip"), "Waiting site")
        eta = page.locator(".eta")
        expect(eta).to_have_text(re.compile(r"ETA about \d+ s$"))
        assert pushed_estimates  # the estimate on screen came through the socket being watched
        before, after = eta_change_without_push(page, pushed_estimates, timeout=15)
        assert before.endswith(" s") and after.endswith(" s") and seconds_in(after) < seconds_in(before), (before, after)
    finally:
        toggle_dispatching(admin, "running")
        admin.context.close()
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.locator(".eta")).to_have_count(0)


def priority_of(app: RunningApp, job_id: int) -> int:
    return int(app.run_python(f"from tests.helpers import job; print(job({job_id}).priority)"))


def test_an_admin_types_any_priority_a_user_picks_a_label(app, page, browser, tmp_path):
    make_admin(app, "e2e-priority-admin")
    sign_in(page, app, "e2e-priority-admin")
    page.fill("#priority", "50")
    urgent = upload(page, zip_folder(static_site(tmp_path / "urgent"), tmp_path / "urgent.zip"), "Urgent site")
    assert priority_of(app, urgent) == 50

    user = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_up(user, app, "e2e-priority-user")
    expect(user.locator("#priority")).to_have_count(0)  # Low / Normal / High only
    user.click("#priority-label")
    user.get_by_role("option", name="High").click()
    high = upload(user, zip_folder(static_site(tmp_path / "high"), tmp_path / "high.zip"), "High site")
    assert priority_of(app, high) == 5
    user.context.close()
