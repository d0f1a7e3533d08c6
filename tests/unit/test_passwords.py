"""argon2 runs in a bounded pool of low-priority threads (workers/passwords.py)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import wait_for
from workers.accounts import passwords


def test_hashes_verify_and_unknown_users_never_match():
    stored = passwords.hash_password("correct horse")
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "wrong horse")
    assert not passwords.verify(None, "not-a-real-password")  # the dummy hash's own password


def test_the_work_runs_in_the_pool_at_a_lower_priority():
    def where() -> tuple[str, int]:
        return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    name, niceness = passwords._run(where)
    assert name.startswith("argon2")
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + passwords.NICENESS)


def test_a_full_pool_refuses_at_once_instead_of_queueing_without_bound():
    capacity = passwords.WORKERS + passwords.MAX_WAITING
    release = threading.Event()
    with ThreadPoolExecutor(capacity) as callers:
        held = [callers.submit(passwords._run, release.wait) for _ in range(capacity)]
        wait_for(lambda: passwords._pool().admitted._value == 0, timeout=10, what="every pool slot taken")
        with pytest.raises(passwords.PasswordPoolBusy):
            passwords._run(lambda: "one too many")
        release.set()
        assert all(call.result(timeout=10) for call in held)
    assert passwords._run(lambda: "served again") == "served again"
