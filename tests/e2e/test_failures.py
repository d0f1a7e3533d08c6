"""A failed build explains itself and can be retried; a running build can be cancelled."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_up
from tests.projects import FIXTURE, TYPE_ERROR_APP, react_project, zip_folder

pytestmark = pytest.mark.e2e


def upload(page, archive, name: str) -> int:
    page.set_input_files("#project input[type=file]", str(archive))
    page.fill("#site-name", name)
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    return int(page.url.rsplit("/", 1)[-1])


def test_failed_build_shows_its_errors_and_retry_runs_again(app, page, tmp_path):
    archive = zip_folder(react_project(tmp_path / "broken", **{"src/App.tsx": TYPE_ERROR_APP}), tmp_path / "broken.zip")
    sign_up(page, app, "e2e-broken")
    first_id = upload(page, archive, "Broken site")

    expect(page.locator("#current-step")).to_have_text("failed at typecheck", timeout=180_000)
    expect(page.locator("#job-error")).to_contain_text("type check failed")
    row = page.locator("#error-list .error-detail").first
    expect(row).to_contain_text("src/App.tsx:2")
    expect(row).to_contain_text("TS2322")
    expect(row).to_contain_text("not assignable to type 'string'")
    expect(page.locator(".step-row[data-step=typecheck]")).to_have_attribute("data-status", "failed")

    # The queue's Recent Builds shows the error line and a Retry button too.
    page.goto(app.url)
    card = page.locator(".job-card").filter(has_text="Broken site")
    expect(card.locator(".job-error")).to_contain_text("type check failed")
    card.locator(".retry-job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    retry_id = int(page.url.rsplit("/", 1)[-1])
    assert retry_id != first_id
    expect(page.get_by_text("Retry queued")).to_be_visible()
    # The same files fail the same way: the retry really ran the pipeline again.
    expect(page.locator("#current-step")).to_have_text("failed at typecheck", timeout=180_000)
    expect(page.locator("#retry-job")).to_be_visible()


def test_cancel_a_running_build(app, page, tmp_path):
    package = json.loads((FIXTURE / "package.json").read_text())
    package["scripts"]["build"] = "node -e \"console.log('\\u001b[33mlong build\\u001b[0m'); setTimeout(() => {}, 300000)\""
    project = react_project(tmp_path / "slow", **{"package.json": json.dumps(package, indent=2)})
    sign_up(page, app, "e2e-cancel")
    upload(page, zip_folder(project, tmp_path / "slow.zip"), "Slow site")

    expect(page.locator("#current-step")).to_have_text("build", timeout=180_000)
    # Tool colours reach the page as styled spans, not escape codes.
    expect(page.locator("#log .ansi-yellow")).to_have_text("long build")
    page.click("#cancel-job")
    expect(page.locator("#current-step")).to_have_text("cancelled", timeout=30_000)
    expect(page.locator(".step-row[data-step=build]")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#cancel-job")).to_have_count(0)
    expect(page.locator("#retry-job")).to_be_visible()
