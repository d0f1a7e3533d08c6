"""Accounts over HTTP: register, sign in, sign out, API tokens, and the sign-in rate limit."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, auth, run, sign_up
from workers.accounts import users as accounts
from workers.accounts.login_throttle import MAX_FAILURES, WINDOW_SECONDS
from workers.store.db import session_scope

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


def alice_login(client: TestClient, password: str, forwarded_for: str) -> int:
    answer = client.post("/api/auth/login", headers={"X-Forwarded-For": forwarded_for}, json={"username": "alice", "password": password})
    return answer.status_code


def fail_until_blocked(client: TestClient, forwarded_for: Callable[[int], str]) -> None:
    """MAX_FAILURES wrong passwords for alice (the n-th claiming forwarded_for(n)), then the 429."""
    for attempt in range(MAX_FAILURES):
        assert alice_login(client, "guess-guess", forwarded_for(attempt)) == 401
    assert alice_login(client, PASSWORD, forwarded_for(MAX_FAILURES)) == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(env, monkeypatch):
    from webbuilder_app.api.app import create_api

    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1")
    nginx = TestClient(create_api(), client=("127.0.0.1", 40000))  # every request arrives from the proxy
    sign_up(nginx, "alice")
    fail_until_blocked(nginx, lambda _: "203.0.113.9")
    # Alice, at another address behind the same proxy, is not locked out by the guesser.
    assert alice_login(nginx, PASSWORD, "198.51.100.7") == 200
    # Prepending a forged address does not buy the guesser a new budget: nginx appends the real one.
    assert alice_login(nginx, PASSWORD, "192.0.2.1, 203.0.113.9") == 429


def test_an_untrusted_peer_cannot_dodge_the_limit_with_x_forwarded_for(env, monkeypatch):
    from webbuilder_app.api.app import create_api

    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1")
    attacker = TestClient(create_api(), client=("203.0.113.9", 40000))  # connects directly, not through nginx
    sign_up(attacker, "alice")
    fail_until_blocked(attacker, lambda attempt: f"192.0.2.{attempt + 1}")  # a new address each time


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


def test_the_sign_in_form_behind_a_trusted_proxy_throttles_the_forwarded_client(env, monkeypatch):
    """The page's sign-in (a Reflex event, not the API) keys the throttle the same way."""
    from reflex.istate.data import RouterData
    from reflex.state import State

    from webbuilder_app.state.auth import AuthState

    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1")
    with session_scope() as session:
        accounts.register(session, "alice", PASSWORD)

    async def sign_in(password: str, forwarded_for: str) -> str:
        root = State()
        root.router = RouterData.from_router_data(
            {"pathname": "/login", "asPath": "/login", "ip": "127.0.0.1", "headers": {"x-forwarded-for": forwarded_for}}
        )
        auth_state = await root.get_state(AuthState)
        await AuthState.login.fn(auth_state, {"username": "alice", "password": password})
        return auth_state.auth_error

    for _ in range(MAX_FAILURES):
        assert "password" in run(sign_in("guess-guess", "203.0.113.9")).lower()
    assert "Too many failed sign-ins" in run(sign_in(PASSWORD, "203.0.113.9"))
    assert run(sign_in(PASSWORD, "198.51.100.7")) == "", "another client behind the same proxy signs in"
