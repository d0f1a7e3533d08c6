"""Several backend processes (WEBBUILDER_WEB_PROCESSES, Reflex on its Redis state manager): every tab
of a user sees a worker's change, whichever process holds its websocket. CI runs the end-to-end suite
this way on the machine's Redis; with one backend process this test has nothing to check."""

from __future__ import annotations

import os

import psutil
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_session, sign_up
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e
WEB_PROCESSES = int(os.environ.get("WEBBUILDER_WEB_PROCESSES", "1"))
TABS = 6


def backend_processes(port: int) -> list[psutil.Process]:
    """The Reflex server's processes: its main process and one per backend worker."""
    return [p for p in psutil.process_iter(["cmdline"])
            if "run" in (cmd := p.info["cmdline"] or []) and "--backend-port" in cmd and str(port) in cmd]


@pytest.mark.skipif(WEB_PROCESSES < 2, reason="the app runs one backend process")
def test_every_tab_gets_live_updates_from_any_backend_process(app, page, tmp_path):
    assert len(backend_processes(app.port)) == WEB_PROCESSES + 1
    sign_up(page, app, "e2e-scale-out")
    tabs = [page] + [page.context.new_page() for _ in range(TABS - 1)]
    for tab in tabs[1:]:
        tab.goto(app.url)
        expect(tab.locator("#active-heading")).to_have_text("Active Builds (0)")
    token = api_session(app, "e2e-scale-out")
    archive = zip_folder(static_site(tmp_path / "site", "Scaled out"), tmp_path / "site.zip")
    with app.api(token) as api:
        answer = api.post("/api/website-builder/upload", files={"files": ("site.zip", archive.read_bytes(), "application/zip")},
                          data={"name": "Scaled out"})
    assert answer.status_code == 202, answer.text
    for tab in tabs:  # the worker's progress reached every tab, through whichever process serves it
        expect(tab.get_by_text("Scaled out").first).to_be_visible(timeout=60_000)
        expect(tab.locator("#recent-jobs").get_by_text("completed").first).to_be_visible(timeout=120_000)
