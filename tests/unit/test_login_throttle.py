"""The sign-in and sign-up limits (workers/login_throttle.py) on Redis and, with Redis unreachable, on
the per-process fallback: the same behaviour either way. A movable clock stands in for waiting."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import free_port
from workers.accounts import login_throttle
from workers.accounts.login_throttle import LONG_WINDOW_SECONDS, MAX_FAILURES, REGISTRATION_WINDOW_SECONDS, WINDOW_SECONDS, Throttled


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "redis-down"])
def clock(request, env, monkeypatch) -> Clock:
    """Limits counted in the test's Redis, or (redis-down) with REDIS_URL at a closed port, in a fresh
    in-memory store."""
    if request.param == "redis-down":
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
        monkeypatch.setattr(login_throttle, "_memory", login_throttle.MemoryStore())
        monkeypatch.setattr(login_throttle, "_redis_retry_at", {})
    fake = Clock()
    monkeypatch.setattr(login_throttle, "_clock", fake)
    return fake


def fail(username: str, client: str) -> None:
    """A sign-in attempt that turns out wrong (it stays counted)."""
    login_throttle.begin_sign_in(username, client)


def refused_for(username: str, client: str) -> int:
    with pytest.raises(Throttled) as refused:
        login_throttle.begin_sign_in(username, client)
    return refused.value.retry_after


def test_one_client_guessing_one_account_is_refused_until_its_oldest_failure_ages_out(clock):
    for _ in range(MAX_FAILURES):
        fail("alice", "203.0.113.9")
        clock.now += 1
    assert refused_for("Alice", "203.0.113.9") == WINDOW_SECONDS - MAX_FAILURES  # names count in lower case
    login_throttle.begin_sign_in("alice", "198.51.100.7").succeeded()  # the owner elsewhere is not refused
    clock.now += WINDOW_SECONDS - MAX_FAILURES
    fail("alice", "203.0.113.9")  # the oldest failure left the window


def test_a_success_clears_that_clients_failures(clock):
    for _ in range(MAX_FAILURES - 1):
        fail("alice", "203.0.113.9")
    login_throttle.begin_sign_in("alice", "203.0.113.9").succeeded()
    for _ in range(MAX_FAILURES):
        fail("alice", "203.0.113.9")
    refused_for("alice", "203.0.113.9")


def test_guesses_from_many_addresses_back_off_exponentially_up_to_the_cap(clock, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_LOGIN_ACCOUNT_FAILURES", "3")
    monkeypatch.setenv("WEBBUILDER_LOGIN_BACKOFF_MAX_SECONDS", "5")
    addresses = iter(f"192.0.2.{n}" for n in range(1, 200))
    for _ in range(3):
        fail("alice", next(addresses))
    waits = []
    for _ in range(5):
        waits.append(refused_for("alice", next(addresses)))
        clock.now += waits[-1]
        fail("alice", next(addresses))
    assert waits == [1, 2, 4, 5, 5]
    fail("bob", next(addresses))  # other accounts are not slowed


def test_a_client_the_account_signed_in_from_is_not_slowed(clock, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_LOGIN_ACCOUNT_FAILURES", "3")
    login_throttle.begin_sign_in("alice", "198.51.100.7").succeeded()  # the owner's usual address
    login_throttle.begin_registration("carol", "198.51.100.8").succeeded()  # where carol signed up
    for n in range(3):
        fail("alice", f"192.0.2.{n}")
        fail("carol", f"192.0.2.{n}")
    assert refused_for("alice", "192.0.2.99") == refused_for("carol", "192.0.2.99") == 1
    login_throttle.begin_sign_in("alice", "198.51.100.7").succeeded()
    login_throttle.begin_sign_in("carol", "198.51.100.8").succeeded()
    refused_for("alice", "198.51.100.8")  # known for carol, not for alice


def test_one_client_spraying_many_usernames_is_refused(clock, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_LOGIN_CLIENT_FAILURES", "5")
    for n in range(5):
        fail(f"user{n}", "203.0.113.9")
    assert refused_for("user5", "203.0.113.9") == LONG_WINDOW_SECONDS
    fail("user5", "198.51.100.7")  # another address is not held back
    clock.now += LONG_WINDOW_SECONDS
    fail("user5", "203.0.113.9")


def test_cancelled_attempts_do_not_count(clock):
    for _ in range(MAX_FAILURES * 2):
        login_throttle.begin_sign_in("alice", "203.0.113.9").cancel()
    login_throttle.begin_sign_in("alice", "203.0.113.9")


def test_parallel_guesses_cannot_slip_past_the_limit(clock):
    """Each attempt is counted before its password is checked, atomically: 30 guesses at once get at
    most MAX_FAILURES checks."""
    start, admitted = threading.Barrier(30), []

    def guess() -> None:
        start.wait()
        try:
            login_throttle.begin_sign_in("alice", "203.0.113.9")
            admitted.append(1)
        except Throttled:
            pass

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= len(admitted) <= MAX_FAILURES


def test_registrations_per_address_per_hour(clock, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_REGISTRATIONS_PER_HOUR", "2")
    login_throttle.begin_registration("one", "203.0.113.9").succeeded()
    clock.now += 60
    login_throttle.begin_registration("two", "203.0.113.9").succeeded()
    login_throttle.begin_registration("other", "198.51.100.7").succeeded()
    with pytest.raises(Throttled) as refused:
        login_throttle.begin_registration("three", "203.0.113.9")
    assert refused.value.retry_after == REGISTRATION_WINDOW_SECONDS - 60  # when the first one ages out
    clock.now += REGISTRATION_WINDOW_SECONDS - 60
    login_throttle.begin_registration("three", "203.0.113.9").cancel()  # e.g. the name was taken meanwhile
    login_throttle.begin_registration("three", "203.0.113.9").succeeded()


def test_redis_down_is_logged_and_the_fallback_store_stays_bounded(env, monkeypatch, caplog):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    store = login_throttle.MemoryStore()
    monkeypatch.setattr(login_throttle, "_memory", store)
    monkeypatch.setattr(login_throttle, "_redis_retry_at", {})
    monkeypatch.setattr(login_throttle.MemoryStore, "MAX_KEYS", 50)
    for n in range(200):
        fail(f"user{n}", f"192.0.2.{n}")
    assert "Redis unavailable" in caplog.text
    assert len(store._entries) <= 50
    for _ in range(MAX_FAILURES):  # recently used keys are kept: the limit still holds
        fail("alice", "203.0.113.9")
    refused_for("alice", "203.0.113.9")
