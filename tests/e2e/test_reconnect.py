"""A page that lost its connection shows the current truth once it is back, without a reload."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_session, sign_up
from tests.projects import static_site, zip_folder

pytestmark = pytest.mark.e2e


def test_reconnected_page_catches_up_on_changes_it_missed(app, page, tmp_path):
    link = {"down": False, "sockets": []}

    def through_the_network(ws):
        """Pass Reflex's websocket through, or refuse it while the 'network' is down."""
        if link["down"]:
            ws.close()
            return
        ws.connect_to_server()
        link["sockets"].append(ws)

    page.route_web_socket(re.compile(r"/_event"), through_the_network)
    sign_up(page, app, "e2e-reconnect")
    page.set_input_files("#project input[type=file]", str(zip_folder(static_site(tmp_path / "s", "Reconnect"), tmp_path / "s.zip")))
    page.fill("#site-name", "Offline site")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("#unread-count")).to_have_text("3", timeout=120_000)
    token = api_session(app, "e2e-reconnect")

    link["down"] = True
    for ws in link["sockets"]:
        ws.close()
    # Meanwhile another client (here the API) changes what this page shows.
    answer = httpx.post(f"{app.url}/api/website-builder/user/notifications/read-all",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200
    expect(page.locator("#unread-count")).to_have_text("3")  # this page missed it
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    link["down"] = False

    expect(page.locator("#unread-count")).to_have_count(0, timeout=60_000)
    assert navigations == [], "the page reloaded instead of re-reading on reconnect"
