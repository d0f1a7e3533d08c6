"""Sign-in sessions end: by expiry, idleness, "sign out everywhere", a password change, an operator's
reset; and the browser's one-time sign-in code works once, for a minute."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.api.conftest import PASSWORD, auth, sign_up
from tests.api.streams import StreamReader
from workers.accounts import sessions
from workers.services import auth as auth_service
from workers.store.db import session_scope
from workers.store.models import AuthToken, User, utcnow

QUEUE = "/api/website-builder/user/queue"
WEBBUILDER = str(Path(sys.executable).parent / "webbuilder")


def works(api, token: str) -> bool:
    return api.get(QUEUE, headers=auth(token)).status_code == 200


def sign_in(api, username: str, password: str = PASSWORD, agent: str = "test-client/1.0") -> str:
    response = api.post("/api/auth/login", json={"username": username, "password": password}, headers={"User-Agent": agent})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def age(token: str, **by) -> None:
    """Move a session's start and last use into the past."""
    with session_scope() as session:
        row = session.exec(select(AuthToken).where(AuthToken.token_hash == sessions.digest(token))).one()
        row.created_at = utcnow() - timedelta(**by)
        row.last_used_at = row.created_at


def api_token(api, token: str) -> str:
    return api.post("/api/auth/tokens", headers=auth(token), json={"name": "ci"}).json()["token"]


def test_a_session_expires_after_its_lifetime_and_when_idle_but_api_tokens_do_not(api, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_SESSION_DAYS", "14")
    monkeypatch.setenv("WEBBUILDER_SESSION_IDLE_HOURS", "72")
    first = sign_up(api, "alice")
    script = api_token(api, first)
    busy, idle = sign_in(api, "alice"), sign_in(api, "alice")
    age(first, days=15)  # past the lifetime, though used just now
    with session_scope() as session:
        session.exec(select(AuthToken).where(AuthToken.token_hash == sessions.digest(first))).one().last_used_at = utcnow()
    age(idle, hours=73)
    age(script, days=400)
    age(busy, hours=71)
    assert not works(api, first) and not works(api, idle)
    assert works(api, busy), "used within the idle limit and inside its lifetime"
    assert works(api, script), "API tokens are revoked by their owner, not by time"


def test_sessions_are_listed_with_their_client_and_one_can_be_ended(api):
    first = sign_up(api, "alice")
    other = sign_in(api, "alice", agent="curl/8.5")
    listed = api.get("/api/auth/sessions", headers=auth(first)).json()["sessions"]
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    ended = next(s for s in listed if "curl/8.5" in s["client"])
    assert ended["client"].endswith("· testclient")
    bob = sign_up(api, "bob")
    assert api.delete(f"/api/auth/sessions/{ended['id']}", headers=auth(bob)).status_code == 404, "not bob's"
    assert works(api, other)
    assert api.delete(f"/api/auth/sessions/{ended['id']}", headers=auth(first)).status_code == 200
    assert not works(api, other) and works(api, first)
    assert [s["id"] for s in api.get("/api/auth/sessions", headers=auth(first)).json()["sessions"]] != [ended["id"]]


def test_logout_all_ends_every_sign_in_session_but_not_api_tokens(api):
    first = sign_up(api, "alice")
    second = sign_in(api, "alice")
    script = api_token(api, first)
    bob = sign_up(api, "bob")
    answer = api.post("/api/auth/logout-all", headers=auth(second))
    assert answer.status_code == 200 and answer.json()["ended"] == 2
    assert not works(api, first) and not works(api, second)
    assert works(api, script) and works(api, bob)


def test_changing_the_password_ends_every_other_session(api):
    first = sign_up(api, "alice")
    other = sign_in(api, "alice")
    wrong = api.post("/api/auth/password", headers=auth(first), json={"currentPassword": "not it", "newPassword": "a new password"})
    assert wrong.status_code == 403 and works(api, other)
    short = api.post("/api/auth/password", headers=auth(first), json={"currentPassword": PASSWORD, "newPassword": "short"})
    assert short.status_code == 422
    changed = api.post("/api/auth/password", headers=auth(first), json={"currentPassword": PASSWORD, "newPassword": "a new password"})
    assert changed.status_code == 200 and changed.json()["ended"] == 1
    assert works(api, first) and not works(api, other)
    assert api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    sign_in(api, "alice", "a new password")


def test_the_sign_in_code_is_exchanged_once_within_a_minute_for_an_http_only_cookie(api):
    sign_up(api, "alice")
    code = auth_service.sign_in_browser("alice", PASSWORD, client="127.0.0.1", label="browser")
    entered = api.post("/api/auth/session", json={"code": code})
    assert entered.status_code == 204
    cookie = entered.headers["set-cookie"]
    assert "webbuilder_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    session_token = entered.cookies["webbuilder_session"]
    assert works(api, session_token)
    assert api.post("/api/auth/session", json={"code": code}).status_code == 401, "a code works once"
    assert not works(api, code), "the code itself never authenticates"

    stale = auth_service.sign_in_browser("alice", PASSWORD, client="127.0.0.1", label="browser")
    with session_scope() as session:
        session.exec(select(AuthToken).where(AuthToken.token_hash == sessions.digest(stale))).one().created_at = (
            utcnow() - timedelta(seconds=sessions.HANDOFF_SECONDS + 1)
        )
    assert api.post("/api/auth/session", json={"code": stale}).status_code == 401

    left = api.delete("/api/auth/session", cookies={"webbuilder_session": session_token})
    assert left.status_code == 204 and not works(api, session_token)


@pytest.mark.integration
def test_an_event_stream_of_an_ended_session_closes_within_seconds(live_api):
    api = live_api.client()
    token = sign_up(api, "alice")
    script = api_token(api, token)
    ended, kept = StreamReader(live_api, token), StreamReader(live_api, script)
    try:
        for reader in (ended, kept):
            reader.next_event(lambda e: e.event == "ready")
        api.post("/api/auth/logout-all", headers=auth(token))
        _, event = ended.next_event(lambda e: e.event == "signed_out", timeout=5)
        assert "session ended" in event.data["message"]
        ended.thread.join(timeout=5)
        assert not ended.thread.is_alive(), "the server closed the stream"
        assert kept.thread.is_alive(), "the API token's stream goes on"
    finally:
        ended.close()
        kept.close()


@pytest.mark.integration
def test_an_operator_resets_a_locked_out_users_password(env, api):
    token = sign_up(api, "alice")
    reset = subprocess.run([WEBBUILDER, "admin", "reset-password", "ALICE", "--password-stdin"], input="a fresh password\n",
                           env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert reset.returncode == 0, reset.stderr
    assert "1 sign-in session(s) ended" in reset.stderr
    assert not works(api, token)
    sign_in(api, "alice", "a fresh password")
    missing = subprocess.run([WEBBUILDER, "admin", "reset-password", "nobody", "--password-stdin"], input="whatever123\n",
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "There is no user 'nobody'" in missing.stderr
    with session_scope() as session:
        assert session.exec(select(User)).all()[0].username == "alice"
