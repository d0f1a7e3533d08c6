"""Upload by zip, by picked folder and by dropped folder; see a large upload's progress; recover from a
failed upload request; watch the build live in every tab of the user, open the site."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_up
from tests.projects import react_project, static_site, zip_folder

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
# The upload's own toast, or (a static site builds in a fraction of a second) the notice that replaced it.
ACCEPTED = re.compile(r"Website queued!|is live at http")
JOB_PAGE = re.compile(r"/jobs/\d+$")


def choose_file(page: Page, path: Path) -> None:
    page.set_input_files("#project input[type=file]", str(path))


def drop_on(page: Page, selector: str, *paths: Path) -> None:
    """Drag files or folders from the desktop onto an element and drop them there.

    Playwright has no desktop drag; Chromium's DevTools input API takes real paths, so a folder arrives
    as a directory entry (webkitGetAsEntry) just as from a file manager, not as a faked file list."""
    box = page.locator(selector).bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    data = {"items": [], "files": [str(path) for path in paths], "dragOperationsMask": 1}  # 1: copy
    cdp = page.context.new_cdp_session(page)
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, **point, "data": data})
    cdp.detach()


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Chromium sends request bodies at this rate, as on a slow uplink (the session lives with the page)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second})


def open_published_site(page: Page) -> Page:
    with page.expect_popup() as popup_info:
        page.locator(".view-website").first.click()
    return popup_info.value


def expect_upload_failed(page: Page) -> None:
    """An error toast and message, and the form ready for another try: no progress, button enabled."""
    expect(page.locator("[data-sonner-toast]").filter(has_text="Upload failed")).to_be_visible()
    expect(page.locator("#upload-error")).to_contain_text("Nothing was queued")
    expect(page.locator("#upload-progress")).to_have_count(0)
    expect(page.locator("#upload-button")).to_be_enabled()


def test_upload_zip_builds_live_and_site_opens(app, page, tmp_path):
    archive = zip_folder(react_project(tmp_path / "site"), tmp_path / "site.zip")
    sign_up(page, app, "e2e-alice")
    # A second tab of the same user, left on the queue: it must follow the build too.
    queue_tab = page.context.new_page()
    queue_tab.goto(app.url)
    expect(queue_tab.locator("#active-heading")).to_have_text("Active Builds (0)")

    choose_file(page, archive)
    expect(page.locator("#selection")).to_have_text("site.zip")
    page.fill("#site-name", "My first site")
    page.click("#upload-button")
    expect(page.get_by_text(ACCEPTED).first).to_be_visible()

    # The upload jumps to the job page; it must change to completed without a reload.
    page.wait_for_url(JOB_PAGE)
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

    site = open_published_site(page)
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
    page.wait_for_url(JOB_PAGE)
    # A flattened folder could not type-check or build: completing proves src/ arrived as src/.
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=180_000)
    site = open_published_site(page)
    expect(site.get_by_test_id("greeting")).to_have_text("Hello from the sample site")
    site.goto(site.url + "nested/note.txt")
    expect(site.locator("body")).to_have_text("picked as a folder")


def test_dropped_folder_keeps_its_structure(app, page, tmp_path):
    folder = static_site(tmp_path / "dropped-site", "Dropped as a folder")
    (folder / "nested" / "deep").mkdir(parents=True)
    (folder / "nested" / "deep" / "note.txt").write_text("dropped with its folders")
    (folder / "nested" / "style.css").write_text("h1 { color: teal }")
    sign_up(page, app, "e2e-drop")
    drop_on(page, "#project", folder)
    expect(page.locator("#selection")).to_have_text("3 files from folder dropped-site")
    page.fill("#site-name", "Dropped site")
    page.click("#upload-button")
    expect(page.get_by_text(ACCEPTED).first).to_be_visible()
    page.wait_for_url(JOB_PAGE)
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)
    site = open_published_site(page)
    expect(site.locator("h1")).to_have_text("Dropped as a folder")
    # Flattened, note.txt would be served at the site's root, if at all.
    site.goto(site.url + "nested/deep/note.txt")
    expect(site.locator("body")).to_have_text("dropped with its folders")


def test_large_upload_shows_its_progress(app, page, tmp_path):
    site = static_site(tmp_path / "big-site", "A site with a large file")
    (site / "media").mkdir()
    (site / "media" / "video.bin").write_bytes(os.urandom(40 * MB))
    archive = zip_folder(site, tmp_path / "big-site.zip")
    sign_up(page, app, "e2e-big")
    throttle_uploads(page, 10 * MB)  # about 4 s for the whole zip
    choose_file(page, archive)
    page.fill("#site-name", "Big site")
    page.click("#upload-button")
    # The bar only shows while uploading, so an intermediate value is seen before the answer.
    strictly_between_0_and_100 = re.compile(r"^[1-9][0-9]?$")
    expect(page.locator("#upload-progress")).to_have_attribute("aria-valuenow", strictly_between_0_and_100)
    expect(page.locator("#upload-progress-text")).to_have_text(re.compile(r"^[1-9][0-9]?% sent$"))
    expect(page.get_by_text(ACCEPTED).first).to_be_visible(timeout=60_000)
    page.wait_for_url(JOB_PAGE)
    expect(page.locator("#job-view")).to_have_attribute("data-status", "completed", timeout=120_000)


def test_upload_over_the_limit_is_refused_and_the_form_recovers(app, page, tmp_path):
    limit_mb = int(app.run_python("from workers.config import settings; print(settings().max_upload_mb)"))
    oversized = tmp_path / "oversized.zip"
    with open(oversized, "wb") as sparse:  # takes no disk: the server refuses it from its declared length
        sparse.truncate((limit_mb + 2) * MB)
    sign_up(page, app, "e2e-oversized")
    upload_answers = []
    page.on("response", lambda response: upload_answers.append(response.status) if "/_upload" in response.url else None)
    choose_file(page, oversized)
    page.fill("#site-name", "Too big")
    page.click("#upload-button")
    expect_upload_failed(page)
    assert upload_answers == [413]
    # Another selection goes through without a reload.
    choose_file(page, zip_folder(static_site(tmp_path / "small-site", "Small enough"), tmp_path / "small-site.zip"))
    page.click("#upload-button")
    expect(page.get_by_text(ACCEPTED).first).to_be_visible()
    page.wait_for_url(JOB_PAGE)


def test_upload_endpoint_refuses_a_body_of_undeclared_size(app):
    """Reflex would spool such a body to disk whatever its size; the guard does not read it."""
    with app.api() as client:
        assert client.post("/_upload", content=iter([b"--boundary--"])).status_code == 411  # sent chunked


def test_dropped_connection_leaves_the_form_usable(app, page, tmp_path):
    archive = zip_folder(static_site(tmp_path / "retried-site", "Sent on the second try"), tmp_path / "retried-site.zip")
    sign_up(page, app, "e2e-dropped")
    # The request fails as on a reset connection. (DevTools' offline mode spares requests in flight,
    # so it cannot cut an upload halfway.)
    page.route("**/_upload", lambda route: route.abort("connectionreset"))
    choose_file(page, archive)
    page.fill("#site-name", "Retried site")
    page.click("#upload-button")
    expect_upload_failed(page)
    # The files are still selected: trying again is one click, without a reload.
    page.unroute("**/_upload")
    expect(page.locator("#selection")).to_have_text("retried-site.zip")
    page.click("#upload-button")
    expect(page.get_by_text(ACCEPTED).first).to_be_visible()
    page.wait_for_url(JOB_PAGE)
