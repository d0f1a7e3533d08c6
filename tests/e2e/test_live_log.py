"""The live log keeps the newest line in view while the build prints, and leaves the reader alone once
they scroll up to read something (components/log_view.py)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import api_session, sign_up
from tests.e2e.test_failures import upload
from tests.projects import scripted_project, zip_folder

pytestmark = pytest.mark.e2e

# One numbered line every 100 ms, for at most a minute: the log grows while the test watches it.
SLOW_PRINTER_JS = "let n = 0\nconst tick = setInterval(() => { console.log(`line ${++n}`); if (n === 600) clearInterval(tick) }, 100)\n"

# Functions of the page, evaluated in the browser.
LAST_LINE = (
    "() => { const lines = document.querySelectorAll('#log .log-line');"
    " const match = lines.length && lines[lines.length - 1].textContent.match(/^line (\\d+)$/);"
    " return match ? Number(match[1]) : 0 }"
)
DISTANCE_FROM_BOTTOM = "() => { const log = document.getElementById('log'); return log.scrollHeight - log.scrollTop - log.clientHeight }"


def last_line(page) -> int:
    return page.evaluate(LAST_LINE)


def distance_from_bottom(page) -> float:
    return page.evaluate(DISTANCE_FROM_BOTTOM)


def wait_for_new_lines(page, after: int, following: bool) -> None:
    """Until a few more lines arrived after line `after` and the box is (or is not) scrolled to its end."""
    at_end = "<= 1" if following else "> 300"
    page.wait_for_function(f"() => ({LAST_LINE})() >= {after + 3} && ({DISTANCE_FROM_BOTTOM})() {at_end}", timeout=30_000)


def test_log_follows_new_lines_until_the_reader_scrolls_up(app, page, tmp_path):
    project = scripted_project(tmp_path / "chatty", SLOW_PRINTER_JS)
    sign_up(page, app, "e2e-autoscroll")
    job_id = upload(page, zip_folder(project, tmp_path / "chatty.zip"), "Chatty site")
    token = api_session(app, "e2e-autoscroll")
    try:
        # The lines overflow the box, and the newest one is in view.
        page.wait_for_function("() => { const log = document.getElementById('log');"
                               " return log && log.scrollHeight > 2 * log.clientHeight }", timeout=120_000)
        wait_for_new_lines(page, last_line(page), following=True)

        # The reader scrolls up: new lines keep coming, the box stays where the reader put it.
        page.hover("#log")
        page.mouse.wheel(0, -400)
        page.wait_for_function(f"() => ({DISTANCE_FROM_BOTTOM})() > 300")
        wait_for_new_lines(page, last_line(page), following=False)
        wait_for_new_lines(page, last_line(page), following=False)

        # Back at the end, it follows again.
        page.mouse.wheel(0, 100_000)
        wait_for_new_lines(page, last_line(page), following=True)
    finally:
        with app.api(token) as api:
            api.post(f"/api/website-builder/jobs/{job_id}/cancel")
