"""Guessing passwords does not pay, on the API and the sign-in/sign-up forms alike: the per-account
back-off (which spares the owner's own address), the per-address limit across usernames, the sign-up
limit, forged X-Forwarded-For, Redis down, a full password pool, case-insensitive usernames.
(The per-(username, address) window is in test_auth.py.)"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, run
from tests.conftest import free_port
from workers.accounts import login_throttle, passwords
from workers.accounts.login_throttle import MAX_FAILURES

LOGIN, REGISTER = "/api/auth/login", "/api/auth/register"


def client_at(address: str) -> TestClient:
    from webbuilder_app.api.app import create_api

    return TestClient(create_api(), client=(address, 40000))


def login(client: TestClient, username: str, password: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(LOGIN, headers=headers, json={"username": username, "password": password})


def register(client: TestClient, username: str):
    return client.post(REGISTER, json={"username": username, "password": PASSWORD})


def test_guesses_from_many_addresses_slow_every_stranger_but_not_the_owner(env, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_LOGIN_ACCOUNT_FAILURES", "3")
    owner = client_at("198.51.100.7")
    assert register(owner, "alice").status_code == 201  # signing up from here is evidence of a session
    for n in range(3):
        assert login(client_at(f"192.0.2.{n}"), "alice", "guess-guess").status_code == 401

    slowed = login(client_at("192.0.2.99"), "alice", PASSWORD)  # even the right password waits
    assert slowed.status_code == 429 and "Too many failed sign-ins" in slowed.json()["message"]
    assert slowed.headers["Retry-After"] == "1"
    assert login(owner, "alice", PASSWORD).status_code == 200


def test_an_address_trying_many_usernames_is_refused_and_forged_forwarding_buys_nothing(env, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_LOGIN_CLIENT_FAILURES", "5")
    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1")
    nginx, direct = client_at("127.0.0.1"), client_at("203.0.113.10")
    for n in range(5):
        # Behind the proxy the guesser prepends a new forged address each time; nginx appends the real one.
        assert login(nginx, f"user{n}", "guess-guess", f"192.0.2.{n}, 203.0.113.9").status_code == 401
        # Connecting directly, its X-Forwarded-For is not believed at all.
        assert login(direct, f"user{n}", "guess-guess", f"192.0.2.{n}").status_code == 401
    refused = login(nginx, "user5", "guess-guess", "192.0.2.77, 203.0.113.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert login(direct, "user5", "guess-guess", "192.0.2.77").status_code == 429
    assert login(nginx, "user5", "guess-guess", "198.51.100.7").status_code == 401, "another client behind the proxy"


def test_sign_ups_are_limited_per_address(env, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_REGISTRATIONS_PER_HOUR", "2")
    signups = client_at("203.0.113.9")
    assert register(signups, "alice").status_code == 201
    assert register(signups, "alice").status_code == 409  # no account made: not counted
    assert register(signups, "bob").status_code == 201
    refused = register(signups, "carol")
    assert refused.status_code == 429
    assert refused.json()["message"].startswith("Too many new accounts from your address")
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert register(client_at("198.51.100.7"), "carol").status_code == 201


def test_the_sign_up_form_is_limited_per_address_too(env, monkeypatch):
    from reflex.istate.data import RouterData
    from reflex.state import State

    from webbuilder_app.state.auth import AuthState

    monkeypatch.setenv("WEBBUILDER_REGISTRATIONS_PER_HOUR", "1")

    async def sign_up(username: str, address: str) -> str:
        root = State()
        root.router = RouterData.from_router_data({"pathname": "/register", "asPath": "/register", "ip": address, "headers": {}})
        auth_state = await root.get_state(AuthState)
        await AuthState.register.fn(auth_state, {"username": username, "password": PASSWORD})
        return auth_state.auth_error

    assert run(sign_up("alice", "203.0.113.9")) == ""
    assert "Too many new accounts" in run(sign_up("bob", "203.0.113.9"))
    assert run(sign_up("bob", "198.51.100.7")) == ""


def test_with_redis_down_the_limits_still_hold(env, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    monkeypatch.setattr(login_throttle, "_memory", login_throttle.MemoryStore())
    monkeypatch.setattr(login_throttle, "_redis_retry_at", {})
    owner, guesser = client_at("198.51.100.7"), client_at("203.0.113.9")
    assert register(owner, "alice").status_code == 201
    for _ in range(MAX_FAILURES):
        assert login(guesser, "alice", "guess-guess").status_code == 401
    assert login(guesser, "alice", PASSWORD).status_code == 429
    assert login(owner, "alice", PASSWORD).status_code == 200


def test_a_full_password_pool_answers_503_and_costs_no_attempt(env, monkeypatch):
    api = client_at("203.0.113.9")
    assert register(api, "alice").status_code == 201

    def busy(_work):
        raise passwords.PasswordPoolBusy("busy")

    with monkeypatch.context() as patch:
        patch.setattr(passwords, "_run", busy)
        for _ in range(MAX_FAILURES + 1):
            answer = login(api, "alice", "guess-guess")
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
            assert "busy" in answer.json()["message"]
        assert register(api, "bob").status_code == 503
    assert login(api, "alice", PASSWORD).status_code == 200, "the busy answers were not counted as failures"


def test_usernames_are_unique_ignoring_case_and_sign_in_ignores_case(env):
    api = client_at("198.51.100.7")
    assert register(api, "alice").status_code == 201
    clash = register(api, "Alice")
    assert clash.status_code == 409 and clash.json()["message"] == "That username is taken."
    signed_in = login(api, "ALICE", PASSWORD)
    assert signed_in.status_code == 200 and signed_in.json()["user"]["username"] == "alice"
    assert login(api, "ALICE", "guess-guess").status_code == 401
