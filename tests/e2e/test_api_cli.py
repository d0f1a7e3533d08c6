"""The API, the `webbuilder` command and the API tokens page against the whole app (`make run`)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_up
from tests.projects import static_site

pytestmark = pytest.mark.e2e
WEBBUILDER = str(Path(sys.executable).parent / "webbuilder")


def websocket_handshake(port: int, origin: str) -> str:
    """The status line the app answers to a browser-like websocket handshake from `origin` (with a
    client token of the frontend's shape)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_event/?EIO=4&transport=websocket&token={uuid.uuid4()} HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(request.encode())
        return conn.recv(4096).split(b"\r\n", 1)[0].decode()


def test_websocket_refuses_other_origins(app):
    assert " 101 " in websocket_handshake(app.port, app.url)
    # A published site (its own origin) or any other page must not drive a user's session.
    for foreign in (f"http://0123456789abcdef0123.localhost:{app.port}", "http://evil.example"):
        status = websocket_handshake(app.port, foreign)
        assert " 101 " not in status and " 403 " in status, status


def test_cli_submit_wait_against_the_app(app, tmp_path):
    with app.api() as api:
        session = api.post("/api/auth/register", json={"username": "cli-e2e", "password": "password123"}).json()["token"]
        token = api.post("/api/auth/tokens", headers={"Authorization": f"Bearer {session}"}, json={"name": "e2e"}).json()["token"]
    site = static_site(tmp_path / "site", text="Built by the CLI")
    env = {**os.environ, "WEBBUILDER_URL": app.url, "WEBBUILDER_TOKEN": token}
    result = subprocess.run([WEBBUILDER, "submit", str(site), "--name", "CLI site", "--wait"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    preview = urlsplit(result.stdout.strip())
    assert preview.hostname.endswith(".localhost") and len(preview.hostname.split(".")[0]) == 20
    # The site answers on its own origin (sent to loopback with its Host header).
    page = httpx.get(f"http://127.0.0.1:{app.port}/", headers={"Host": preview.netloc}, timeout=10)
    assert page.status_code == 200 and "Built by the CLI" in page.text


def test_tokens_page_creates_and_revokes(app, page):
    sign_up(page, app, "tokens-e2e")
    page.click("text=API tokens")
    page.wait_for_url(f"{app.url}/tokens")
    page.fill("#token-name", "my pipeline")
    page.click("#create-token")
    expect(page.locator("#created-token")).not_to_be_empty()  # written in by a script, not state
    token = page.locator("#created-token").inner_text().strip()
    with app.api(token) as api:
        assert api.get("/api/website-builder/user/queue").status_code == 200
        page.locator(".token-row", has_text="my pipeline").get_by_role("button", name="Revoke").click()
        page.get_by_text("No API tokens yet.").wait_for()
        assert api.get("/api/website-builder/user/queue").status_code == 401
