"""The app as `make run` starts it: its pages carry the security headers (a published site does not),
the data folder, database and Valkey password are private, and Reflex pickles tab states inside the
data folder, never under the project's `.states`."""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pages_carry_the_security_headers_and_published_sites_do_not(app):
    for path in ("/", "/login"):
        answer = httpx.get(f"{app.url}{path}", timeout=10, follow_redirects=True)
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == "frame-ancestors 'self'", path
        assert answer.headers["x-content-type-options"] == "nosniff", path

    slug = secrets.token_hex(10)
    (app.data_dir / "sites" / slug).mkdir(parents=True)
    (app.data_dir / "sites" / slug / "index.html").write_text("<h1>someone's site</h1>")
    site = httpx.get(f"http://127.0.0.1:{app.port}/", headers={"Host": f"{slug}.localhost:{app.port}"}, timeout=10)
    assert site.status_code == 200 and "someone's site" in site.text
    assert "content-security-policy" not in site.headers and "x-content-type-options" not in site.headers


def test_the_data_folder_and_its_secrets_are_private(app):
    assert mode(app.data_dir) == 0o700
    if "DATABASE_URL" not in app.env:  # SQLite in the data folder
        assert mode(app.data_dir / "webbuilder.db") == 0o600
    if "REDIS_URL" not in app.env:  # the embedded Valkey
        assert mode(app.data_dir / "valkey-password") == 0o600


@pytest.mark.skipif(int(os.environ.get("WEBBUILDER_WEB_PROCESSES", "1")) > 1,
                    reason="several backend processes keep tab states in Redis, not on disk")
def test_tab_states_are_kept_in_the_data_folder(app, page):
    began = time.time()
    page.goto(f"{app.url}/login")  # a new tab: its state is created, hydrated and written
    states = app.data_dir / "reflex-states"
    wait_for(lambda: any(p.stat().st_mtime >= began for p in states.glob("*.pkl")), timeout=30,
             what="this tab's state under data/reflex-states")
    project_states = ROOT / ".states"
    assert not project_states.exists() or [p for p in project_states.iterdir() if p.stat().st_mtime >= began] == []
