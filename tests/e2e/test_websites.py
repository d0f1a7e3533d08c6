"""A website keeps its address across deployments: deploy v1, deploy v2 from its card, see the stable
address serve v2, roll back to v1 from the website page (another tab on that page follows), see it
serve v1 again. Someone else's deep link to the website finds nothing. With auto-publish off, a new
deployment waits for Promote, and its notification leads to the website page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_for
from tests.e2e.conftest import fresh_page, sign_up
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e

JOB_PAGE = re.compile(r"/jobs/\d+$")
WEBSITE_PAGE = re.compile(r"/websites/(\d+)$")


def site_zip(tmp_path: Path, version: str) -> Path:
    return zip_folder(static_site(tmp_path / version, f"Shop {version}"), tmp_path / f"{version}.zip")


def expect_served(page: Page, url: str, heading: str) -> None:
    """A new tab on the stable address shows `heading` (each look is a fresh load of the address)."""
    tab = page.context.new_page()

    def shows_it() -> bool:
        tab.goto(url)
        return tab.locator("h1").all_inner_texts() == [heading]

    try:
        wait_for(shows_it, timeout=10, interval=0.2, what=f"{url} to serve {heading!r}")
    finally:
        tab.close()


def test_deploy_two_versions_and_roll_back_at_the_same_address(app, page, browser, tmp_path):
    sign_up(page, app, "e2e-websites")
    expect(page.get_by_text("No websites yet")).to_be_visible()

    # v1: a new website from the upload form, with a message.
    page.set_input_files("#project input[type=file]", str(site_zip(tmp_path, "v1")))
    page.fill("#site-name", "Corner shop")
    page.fill("#message", "first opening")
    page.click("#upload-button")
    page.wait_for_url(JOB_PAGE)
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)
    live_at = re.compile(r"Corner shop is live at http://corner-shop(-\d+)?\.localhost:\d+/")
    expect(page.locator("[data-sonner-toast]").filter(has_text=live_at)).to_be_visible()

    page.goto(app.url)
    card = page.locator(".website-card").filter(has_text="Corner shop")
    expect(card).to_have_attribute("data-status", "completed")
    expect(card).to_contain_text("1 deployment")
    address = card.locator("a.website-url")
    stable = address.get_attribute("href")
    assert re.fullmatch(r"http://corner-shop(-\d+)?\.localhost:\d+/", stable), stable  # from the name
    expect_served(page, stable, "Shop v1")

    # v2 from the card's dialog; the card follows the build without a reload.
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    card.locator(".deploy-version").click()
    dialog = page.locator("#deploy-dialog")
    expect(dialog).to_contain_text("Deploy a new version of Corner shop")
    page.set_input_files("#new-version input[type=file]", str(site_zip(tmp_path, "v2")))
    expect(page.locator("#deploy-selection")).to_have_text("v2.zip")
    page.fill("#version-message", "summer prices")
    page.click("#deploy-button")
    expect(dialog).to_have_count(0)
    expect(card).to_contain_text("2 deployments")
    expect(card).to_have_attribute("data-status", "completed", timeout=120_000)
    assert navigations == [], "the home page reloaded instead of being updated live"
    assert card.locator("a.website-url").get_attribute("href") == stable
    expect_served(page, stable, "Shop v2")

    # The website page: v2 live, v1 ready to roll back to; a second tab stays on it.
    card.locator(".website-name").click()
    page.wait_for_url(WEBSITE_PAGE)
    website_url = page.url
    rows = page.locator(".deployment-row")
    expect(rows).to_have_count(2)
    newest, first = rows.nth(0), rows.nth(1)
    expect(newest).to_have_attribute("data-live", "true")
    expect(newest.locator(".deployment-message")).to_have_text("summer prices")
    expect(newest.locator(".promoted")).to_contain_text("by auto-publish")
    expect(first.locator(".deployment-message")).to_have_text("first opening")
    expect(first).to_have_attribute("data-live", "false")
    first_address = first.locator("a.deployment-url").get_attribute("href")
    assert re.fullmatch(r"http://[a-f0-9]{20}\.localhost:\d+/", first_address), first_address
    watcher = page.context.new_page()
    watcher.goto(website_url)
    expect(watcher.locator(".deployment-row").nth(0)).to_have_attribute("data-live", "true")

    first.locator(".make-live").click()
    expect(first.locator(".make-live")).to_have_text("Roll back to this")
    confirm = page.locator("#make-live-dialog")
    expect(confirm).to_contain_text(stable)
    page.click("#confirm-make-live")
    expect(confirm).to_have_count(0)
    expect(first).to_have_attribute("data-live", "true")
    expect(first.locator(".promoted")).to_contain_text("by e2e-websites")
    expect(newest).to_have_attribute("data-live", "false")
    expect(page.locator("#live-deployment")).to_have_text(re.compile(r"Serving deployment #\d+"))
    # The other tab followed, without reloading.
    expect(watcher.locator(".deployment-row").nth(1)).to_have_attribute("data-live", "true")
    expect(watcher.locator(".deployment-row").nth(0)).to_have_attribute("data-live", "false")
    expect_served(page, stable, "Shop v1")

    # Another user's deep link to this website shows nothing of it.
    stranger = fresh_page(browser)
    try:
        sign_up(stranger, app, "e2e-websites-stranger")
        stranger.goto(website_url)
        expect(stranger.locator("#website-not-found")).to_have_text(re.compile("Website not found"))
        expect(stranger.get_by_text("Corner shop")).to_have_count(0)
    finally:
        stranger.context.close()


def test_with_auto_publish_off_a_deployment_waits_for_promote(app, page, tmp_path):
    sign_up(page, app, "e2e-websites-manual")
    page.set_input_files("#project input[type=file]", str(site_zip(tmp_path, "v1")))
    page.fill("#site-name", "Careful shop")
    page.click("#upload-button")
    page.wait_for_url(JOB_PAGE)
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)
    page.goto(app.url)
    page.locator(".website-card", has_text="Careful shop").locator(".website-name").click()
    page.wait_for_url(WEBSITE_PAGE)
    website_path = "/websites/" + WEBSITE_PAGE.search(page.url).group(1)
    stable = page.locator("#live-address a.website-url").get_attribute("href")

    page.click("#auto-publish")
    expect(page.locator("#auto-publish")).to_have_attribute("data-state", "unchecked")
    page.click("#deploy-version")
    page.set_input_files("#new-version input[type=file]", str(site_zip(tmp_path, "v2")))
    page.click("#deploy-button")
    newest = page.locator(".deployment-row").first
    expect(page.locator(".deployment-row")).to_have_count(2)
    expect(newest).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(newest).to_have_attribute("data-live", "false")
    expect_served(page, stable, "Shop v1")

    toast = page.locator("[data-sonner-toast]").filter(has_text="Careful shop is ready to promote")
    expect(toast).to_be_visible()
    page.goto(app.url)  # the notification leads back to the website page
    page.click("#bell")
    page.locator("#notification-panel .notification-item", has_text="ready to promote").click()
    page.wait_for_url(re.compile(re.escape(website_path) + "$"))

    newest = page.locator(".deployment-row").first
    expect(newest.locator(".make-live")).to_have_text("Promote")
    newest.locator(".make-live").click()
    page.click("#confirm-make-live")
    expect(newest).to_have_attribute("data-live", "true")
    expect_served(page, stable, "Shop v2")
