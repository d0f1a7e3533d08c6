"""Accounts over HTTP: register, sign in, sign out, API tokens, and the sign-in rate limit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, auth, sign_up
from workers.login_throttle import MAX_FAILURES, WINDOW_SECONDS

QUEUE = "/api/website-builder/user/queue"


def test_register_login_logout(api):
    registered = api.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
    assert registered.status_code == 201
    assert registered.json()["user"]["username"] == "alice" and registered.json()["user"]["isAdmin"] is False

    login = api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["token"]
    assert api.get(QUEUE, headers=auth(token)).status_code == 200

    assert api.post("/api/auth/logout", headers=auth(token)).json() == {"success": True}
    refused = api.get(QUEUE, headers=auth(token))
    assert refused.status_code == 401
    assert refused.json()["message"].startswith("Sign in first")
    # Signing out one session leaves the other (from registering) working.
    assert api.get(QUEUE, headers=auth(registered.json()["token"])).status_code == 200


def test_registration_refusals_are_clear(api):
    sign_up(api, "alice")
    taken = api.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
    assert taken.status_code == 409 and taken.json()["message"] == "That username is taken."
    short = api.post("/api/auth/register", json={"username": "bob", "password": "short"})
    assert short.status_code == 422 and "at least 8" in short.json()["message"]
    bad_name = api.post("/api/auth/register", json={"username": "b\x00b", "password": PASSWORD})
    assert bad_name.status_code == 422 and "Username" in bad_name.json()["message"]
    missing = api.post("/api/auth/register", json={"username": "bob"})
    assert missing.status_code == 422 and "password" in missing.json()["message"]


def test_requests_without_a_valid_token_are_401(api):
    assert api.get(QUEUE).status_code == 401
    assert api.get(QUEUE, headers=auth("not-a-token")).status_code == 401
    assert api.get(QUEUE, headers={"Authorization": "Basic YWxpY2U6cHc="}).status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(api):
    sign_up(api, "alice")
    wrong = api.post("/api/auth/login", json={"username": "alice", "password": "wrong-password"})
    unknown = api.post("/api/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"success": False, "message": "Wrong username or password."}


def test_login_is_rate_limited_per_username_and_client(env):
    from webbuilder_app.api.app import create_api

    app = create_api()
    attacker = TestClient(app, client=("203.0.113.9", 40000))
    owner = TestClient(app, client=("198.51.100.7", 40000))
    sign_up(owner, "alice")
    for _ in range(MAX_FAILURES):
        assert attacker.post("/api/auth/login", json={"username": "alice", "password": "guess-guess"}).status_code == 401

    blocked = attacker.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.json()["message"]
    assert 0 < int(blocked.headers["Retry-After"]) <= WINDOW_SECONDS
    # The same username from another address, and another username from the attacker, still work.
    assert owner.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    sign_up(owner, "bob")
    assert attacker.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_a_successful_login_clears_earlier_failures(api):
    sign_up(api, "alice")
    for _ in range(MAX_FAILURES - 1):
        api.post("/api/auth/login", json={"username": "alice", "password": "guess-guess"})
    assert api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    for _ in range(MAX_FAILURES - 1):
        assert api.post("/api/auth/login", json={"username": "alice", "password": "guess-guess"}).status_code == 401


def test_api_tokens_create_list_use_revoke(api):
    session = sign_up(api, "alice")
    created = api.post("/api/auth/tokens", headers=auth(session), json={"name": "github-actions"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "github-actions" and body["token"] and body["lastUsedAt"] is None

    assert api.get(QUEUE, headers=auth(body["token"])).status_code == 200
    listed = api.get("/api/auth/tokens", headers=auth(session)).json()["tokens"]
    assert [(t["id"], t["name"]) for t in listed] == [(body["id"], "github-actions")]
    assert listed[0]["lastUsedAt"] is not None and "token" not in listed[0]

    assert api.delete(f"/api/auth/tokens/{body['id']}", headers=auth(session)).json() == {"success": True}
    assert api.get(QUEUE, headers=auth(body["token"])).status_code == 401
    assert api.get("/api/auth/tokens", headers=auth(session)).json()["tokens"] == []
    again = api.delete(f"/api/auth/tokens/{body['id']}", headers=auth(session))
    assert again.status_code == 404 and again.json()["message"] == "Token not found."


def test_token_names_are_checked(api):
    session = sign_up(api, "alice")
    blank = api.post("/api/auth/tokens", headers=auth(session), json={"name": "   "})
    assert blank.status_code == 422 and "name" in blank.json()["message"]
    control = api.post("/api/auth/tokens", headers=auth(session), json={"name": "ci\x00"})
    assert control.status_code == 422 and "control characters" in control.json()["message"]
    long = api.post("/api/auth/tokens", headers=auth(session), json={"name": "x" * 101})
    assert long.status_code == 422
