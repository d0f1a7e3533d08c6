"""Every page in the light and the dark theme: nothing overflows sideways, and the pictures for the
README are taken. Set WEBBUILDER_SCREENSHOTS_DIR=docs/screenshots to refresh the ones in the repo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import make_admin, sign_in, sign_up
from tests.projects import TYPE_ERROR_APP, react_project, static_site, zip_folder

pytestmark = pytest.mark.e2e


def _upload(page, app, archive: Path, name: str, final_status: str) -> str:
    page.goto(app.url)
    page.set_input_files("#project input[type=file]", str(archive))
    page.fill("#site-name", name)
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("#job-view")).to_have_attribute("data-status", final_status, timeout=180_000)
    return page.url


def _shoot(page, folder: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let toasts and chart animations settle for the picture only
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the window"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_pages_in_both_themes(app, browser, tmp_path):
    folder = Path(os.environ.get("WEBBUILDER_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    setup = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_up(setup, app, "demo")
    portfolio = react_project(tmp_path / "portfolio", **{"public/about.txt": "A portfolio"})
    completed = _upload(setup, app, zip_folder(portfolio, tmp_path / "p.zip"), "Portfolio", "completed")
    _upload(setup, app, zip_folder(static_site(tmp_path / "static", "Docs"), tmp_path / "s.zip"), "Docs", "completed")
    failed = _upload(setup, app, zip_folder(react_project(tmp_path / "b", **{"src/App.tsx": TYPE_ERROR_APP}), tmp_path / "b.zip"),
                     "Marketing site", "failed")
    setup.goto(app.url)  # a second deployment of the portfolio, from its card
    portfolio_card = setup.locator(".website-card", has_text="Portfolio")
    portfolio_card.locator(".deploy-version").click()
    portfolio_v2 = react_project(tmp_path / "portfolio-v2", **{"public/about.txt": "A portfolio, with an about page"})
    setup.set_input_files("#new-version input[type=file]", str(zip_folder(portfolio_v2, tmp_path / "p2.zip")))
    setup.fill("#version-message", "New about page")
    setup.click("#deploy-button")
    expect(portfolio_card).to_contain_text("2 deployments")
    expect(portfolio_card).to_have_attribute("data-status", "completed", timeout=180_000)
    setup.goto(f"{app.url}/integrations")
    setup.fill("#webhook-url", "https://ci.example.com/hooks/webbuilder")
    setup.click("#add-webhook")
    expect(setup.locator("#webhook-secret")).to_be_visible()
    setup.goto(f"{app.url}/tokens")
    setup.fill("#token-name", "GitHub Actions")
    setup.click("#create-token")
    expect(setup.locator("#created-token")).to_be_visible()
    setup.context.close()
    make_admin(app, "demo-admin")

    for theme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=theme)
        page = context.new_page()
        page.goto(f"{app.url}/login")
        expect(page.locator("#submit")).to_be_visible()
        _shoot(page, folder, f"sign-in-{theme}")
        page.goto(f"{app.url}/register")
        expect(page.locator("#submit")).to_have_text("Sign up")
        _shoot(page, folder, f"register-{theme}")
        sign_in(page, app, "demo")
        expect(page.locator("#recent-jobs .job-card")).to_have_count(4)
        expect(page.locator(".website-card")).to_have_count(3)
        _shoot(page, folder, f"queue-{theme}")
        page.click("#bell")
        expect(page.locator("#notification-panel .notification-item").first).to_be_visible()
        _shoot(page, folder, f"notifications-{theme}")
        page.keyboard.press("Escape")
        page.locator(".website-card", has_text="Portfolio").locator(".website-name").click()
        expect(page.locator(".deployment-row")).to_have_count(2)
        _shoot(page, folder, f"website-{theme}")
        page.goto(completed)
        expect(page.locator("#job-view")).to_have_attribute("data-status", "completed")
        _shoot(page, folder, f"job-{theme}")
        page.goto(failed)
        expect(page.locator("#error-list")).to_be_visible()
        _shoot(page, folder, f"job-failed-{theme}")
        page.goto(f"{app.url}/integrations")
        expect(page.locator(".webhook-row")).to_have_count(1)
        _shoot(page, folder, f"integrations-{theme}")
        page.goto(f"{app.url}/tokens")
        expect(page.get_by_text("GitHub Actions")).to_be_visible()
        _shoot(page, folder, f"tokens-{theme}")
        page.goto(f"{app.url}/account")
        expect(page.locator(".session-row", has_text="this browser")).to_have_count(1)
        _shoot(page, folder, f"account-{theme}")
        context.close()

        admin = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=theme).new_page()
        sign_in(admin, app, "demo-admin")
        admin.goto(f"{app.url}/ops")
        expect(admin.locator("#cpu-gauge")).to_contain_text("%")
        expect(admin.locator("#workers-alive")).not_to_have_text("0", timeout=20_000)
        _shoot(admin, folder, f"ops-{theme}")
        admin.context.close()
