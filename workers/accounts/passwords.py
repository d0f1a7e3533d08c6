"""Password hashing in a small pool of low-priority threads, so sign-ins cannot stall the app.

One argon2 hash or verify costs about 0.25 s of CPU here (argon2-cffi's defaults: 64 MiB, 3 passes;
new hashes use one lane, so a hash occupies one core rather than spreading over all of them; hashes
made with more lanes still verify, on threads of argon2's own). Callers — a FastAPI sync route in its threadpool, a
Reflex handler through asyncio.to_thread — hand the work to this pool and wait. The pool bounds how
many hashes run at once (WORKERS, so at most WORKERS × 64 MiB) and how many may wait (MAX_WAITING);
beyond that a caller is refused at once with PasswordPoolBusy instead of holding its thread, so a
burst of sign-ins cannot occupy every thread of the web server. On Linux the pool's threads (and the
lane threads argon2 starts from them) run NICENESS steps nicer than the rest of the process: a burst
uses the CPU the rest of the app leaves idle instead of slowing every other request.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

WORKERS = max(1, (os.cpu_count() or 1) - 1)  # one core stays for the rest of the app
MAX_WAITING = 2 * WORKERS
NICENESS = 10
T = TypeVar("T")
_hasher = PasswordHasher(parallelism=1)


class PasswordPoolBusy(RuntimeError):
    """Every hashing thread is busy and MAX_WAITING callers already wait: try again in a moment."""


@dataclass(frozen=True)
class _Pool:
    executor: ThreadPoolExecutor
    admitted: threading.BoundedSemaphore  # running + waiting


def _lower_priority() -> None:
    # Linux keeps the nice value per thread (a new thread inherits its creator's): this lowers only
    # the pool's threads, NICENESS below the rest of the process.
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
    except (AttributeError, OSError):  # not Linux: the pool still bounds the work, at normal priority
        pass


@functools.cache
def _pool() -> _Pool:
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="argon2", initializer=_lower_priority)
    return _Pool(executor, threading.BoundedSemaphore(WORKERS + MAX_WAITING))


# A forked web worker gets no threads from its parent: it must start a pool of its own.
os.register_at_fork(after_in_child=_pool.cache_clear)


def _run(work: Callable[[], T]) -> T:
    pool = _pool()
    if not pool.admitted.acquire(blocking=False):
        raise PasswordPoolBusy("The server is busy checking other passwords.")
    try:
        return pool.executor.submit(work).result()
    finally:
        pool.admitted.release()


def hash_password(password: str) -> str:
    return _run(lambda: _hasher.hash(password))


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. None (no such user) verifies against a dummy hash,
    so an unknown username takes as long to refuse as a wrong password."""
    stored = password_hash or _dummy_hash()

    def check() -> bool:
        try:
            return _hasher.verify(stored, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return _run(check)
