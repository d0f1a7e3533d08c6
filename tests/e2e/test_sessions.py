"""Sign-in sessions in the browser (issue 11, items 3 and 4): the session is an HttpOnly cookie no script,
websocket frame or pickled tab state holds; the Account page ends other sessions, all of them, or every
other one by a password change, and tabs of an ended session are sent to sign in within 5 s; the code
the sign-in form hands the page is good for one exchange."""

from __future__ import annotations

import json
import os
import re

import httpx
import pytest
import redis
from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.e2e.conftest import fresh_page, sign_in, sign_up
from workers.accounts.sessions import COOKIE_NAME

pytestmark = pytest.mark.e2e

QUEUE_API = "/api/website-builder/user/queue"
CUT_OFF_MS = 5000  # issue 11: tabs of an ended session stop within 5 s


def sign_in_page(app) -> re.Pattern:
    """/login as the Reflex router pushes it, or /login/ as a full page load lands (the static export
    redirects to the slash)."""
    return re.compile(rf"^{re.escape(app.url)}/login/?$")


@pytest.fixture
def second_page(browser):
    """Another browser (its own cookie jar), for a second session of the same user."""
    page = fresh_page(browser)
    yield page
    page.context.close()


def session_cookie(page, app) -> dict:
    [cookie] = [c for c in page.context.cookies(app.url) if c["name"] == COOKIE_NAME]
    return cookie


def shows_signed_in(page, username: str) -> None:
    """The page's feed linked (its handler sets the user menu's name), so the tab is on record under
    its session."""
    expect(page.locator("#user-menu")).to_contain_text(username)


def status_with(app, token: str, path: str = QUEUE_API) -> int:
    with app.api(token) as api:
        return api.get(path).status_code


def open_account(page, app, sessions: int):
    page.goto(f"{app.url}/account")
    rows = page.locator(".session-row")
    expect(rows).to_have_count(sessions)
    return rows


def test_signing_out_another_session_sends_its_tab_to_sign_in(app, page, second_page):
    sign_up(page, app, "sessions-other")
    sign_in(second_page, app, "sessions-other")
    shows_signed_in(second_page, "sessions-other")
    other_cookie = session_cookie(second_page, app)["value"]
    assert status_with(app, other_cookie) == 200

    rows = open_account(page, app, 2)
    expect(rows.filter(has_text="this browser")).to_have_count(1)
    rows.filter(has_not_text="this browser").get_by_role("button", name="Sign out").click()
    second_page.wait_for_url(sign_in_page(app), timeout=CUT_OFF_MS)

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("this browser")
    second_page.goto(app.url)  # the cookie is still in that browser, and no longer works
    second_page.wait_for_url(sign_in_page(app))
    assert status_with(app, other_cookie) == 401
    shows_signed_in(page, "sessions-other")  # this browser was not signed out


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, page, second_page):
    sign_up(page, app, "sessions-password")
    sign_in(second_page, app, "sessions-password")
    shows_signed_in(second_page, "sessions-password")

    rows = open_account(page, app, 2)
    page.fill("#current_password", "password123")
    page.fill("#new_password", "a-new-password-456")
    page.fill("#repeat_password", "a-new-password-456")
    page.click("#change-password")
    second_page.wait_for_url(sign_in_page(app), timeout=CUT_OFF_MS)

    expect(rows).to_have_count(1)
    expect(page.locator("#user-menu")).to_contain_text("sessions-password")
    page.reload()  # the list is only loaded for a signed-in tab
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("this browser")
    expect(page.locator("#user-menu")).to_contain_text("sessions-password")
    assert page.url.rstrip("/") == f"{app.url}/account"  # the static export may add a slash

    second_page.fill("#username", "sessions-password")
    second_page.fill("#password", "password123")
    second_page.click("#submit")
    expect(second_page.get_by_text("Wrong username or password")).to_be_visible()
    sign_in(second_page, app, "sessions-password", "a-new-password-456")


def test_sign_out_everywhere_ends_sign_ins_and_keeps_api_tokens(app, page):
    sign_up(page, app, "sessions-everywhere")
    with app.api() as api:
        answer = api.post("/api/auth/login", json={"username": "sessions-everywhere", "password": "password123"})
        assert answer.status_code == 200
        sign_in_token = answer.json()["token"]
    with app.api(sign_in_token) as api:
        answer = api.post("/api/auth/tokens", json={"name": "ci"})
        assert answer.status_code == 201
        api_token = answer.json()["token"]
    assert status_with(app, sign_in_token) == 200

    open_account(page, app, 2)  # this browser and the API sign-in
    page.click("#sign-out-everywhere")
    page.wait_for_url(sign_in_page(app), timeout=CUT_OFF_MS)

    assert status_with(app, sign_in_token) == 401
    assert status_with(app, api_token) == 200
    page.goto(app.url)
    page.wait_for_url(sign_in_page(app))


def state_files(app) -> dict[str, bytes]:
    """Every stored tab state: pickles under data/reflex-states (one backend process), or the values
    of the app's Redis (several, Reflex's Redis state manager)."""
    if int(app.env.get("WEBBUILDER_WEB_PROCESSES", os.environ.get("WEBBUILDER_WEB_PROCESSES", "1"))) > 1:
        client = redis.Redis.from_url(app.env["REDIS_URL"])
        values = {}
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                values[key.decode()] = client.get(key) or b""
            elif kind == b"hash":
                values[key.decode()] = b"\n".join(client.hgetall(key).values())
        return values
    return {str(path): path.read_bytes() for path in (app.data_dir / "reflex-states").rglob("*") if path.is_file()}


def written_with(app, marker: str) -> None:
    """Wait until some stored tab state holds `marker`: the state a handler just changed is stored
    (the disk state manager writes a couple of seconds after a change)."""
    wait_for(lambda: any(marker.encode() in data for data in state_files(app).values()), timeout=30,
             what=f"a stored tab state holding {marker!r}")


def test_no_credential_where_a_script_or_the_state_store_can_read_it(app, page, receiver):
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else payload.decode("latin-1"))))
    sign_up(page, app, "sessions-secrets")
    shows_signed_in(page, "sessions-secrets")

    cookie = session_cookie(page, app)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    session = cookie["value"]
    assert COOKIE_NAME not in page.evaluate("document.cookie")
    stored = page.evaluate("() => [...Object.values(localStorage), ...Object.values(sessionStorage)]")
    assert not [value for value in stored if session in value]

    page.goto(f"{app.url}/tokens")
    page.get_by_text("No API tokens yet.").wait_for()
    page.fill("#token-name", "secrets-check-token")
    page.click("#create-token")
    expect(page.locator("#created-token")).not_to_be_empty()
    api_token = page.locator("#created-token").inner_text().strip()
    assert status_with(app, api_token) == 200  # the token shown is the real one

    hook = receiver(200)
    page.goto(f"{app.url}/integrations")
    page.get_by_text("Nothing sent yet.").wait_for()
    page.fill("#webhook-url", hook.url)
    page.click("#add-webhook")
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    webhook_secret = page.locator("#webhook-secret").inner_text().strip()

    # The states the token and webhook handlers changed (their lists) are on disk: neither they nor
    # any other tab state hold a credential.
    written_with(app, "secrets-check-token")
    written_with(app, hook.url)
    for secret in (session, api_token, webhook_secret):
        assert [path for path, data in state_files(app).items() if secret.encode() in data] == []

    assert any("sessions-secrets" in frame for frame in frames)  # the tab's state came over these frames
    assert [frame for frame in frames if session in frame] == []

    page.goto(f"{app.url}/tokens")  # shown once
    page.locator(".token-row", has_text="secrets-check-token").wait_for()
    expect(page.locator("#created-token")).to_have_count(0)
    assert api_token not in page.content()


def test_the_sign_in_code_is_exchanged_once(app, page):
    exchanges = []
    page.on("request", lambda request: exchanges.append(request)
            if request.method == "POST" and request.url == f"{app.url}/api/auth/session" else None)
    sign_up(page, app, "sessions-handoff")
    [exchange] = exchanges
    assert exchange.response().status == 204
    assert json.loads(exchange.post_data)["code"]

    replay = httpx.post(f"{app.url}/api/auth/session", content=exchange.post_data,
                        headers={"Content-Type": "application/json"}, timeout=10)
    assert replay.status_code == 401
    assert COOKIE_NAME not in replay.cookies
