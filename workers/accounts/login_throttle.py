"""Sign-in and sign-up limits, so that guessing passwords does not pay.

Every sign-in attempt is counted as a failure *before* its password is checked, in one atomic step,
so parallel guesses see each other; it is uncounted again when it turns out right or is refused.
Three sliding windows of failures, each answered with 429 and Retry-After:

- per (username, client): MAX_FAILURES within WINDOW_SECONDS, then refused until the oldest leaves
  the window. Keyed by client too, so a guesser elsewhere cannot lock the owner out this way.
- per username, from anywhere (a guesser with many addresses): after `login_account_failures`
  within LONG_WINDOW_SECONDS each further attempt must wait 1, 2, 4 … s after the latest, at most
  `login_backoff_max_seconds`: guessing slows to one try per that cap, while the owner waits seconds,
  never more. A client holding evidence of a session of the account is not slowed: an address this
  account signed in (or registered) from within the session lifetime (WEBBUILDER_SESSION_DAYS).
- per client, across usernames (one address trying many): `login_client_failures` within
  LONG_WINDOW_SECONDS.

Registration: `registrations_per_hour` new accounts per client address.

Usernames count in lower case, and unknown ones like real ones, so the limits reveal no accounts.
The counts live in Redis, shared by every web process. When Redis cannot be reached, a per-process
in-memory store of bounded size takes over: the limits then count per process, never not at all.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from workers.config import settings
from workers.store.events import redis_client

MAX_FAILURES = 10
WINDOW_SECONDS = 300
LONG_WINDOW_SECONDS = 900
REGISTRATION_WINDOW_SECONDS = 3600
KEY_PREFIX = "webbuilder:login:"
# After Redis failed, the in-memory store answers for this long before Redis is tried again, so an
# unreachable server costs one connect timeout per interval rather than one per sign-in.
REDIS_RETRY_SECONDS = 5.0
_clock = time.time  # wall-clock seconds, shared by every process (tests move it)
log = logging.getLogger(__name__)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Window:
    key: str
    seconds: float
    # The limit needs the time of the look_back-th newest earlier entry: a window of N attempts looks
    # back N (when did the oldest that still counts come in?), the back-off 1 (the latest).
    look_back: int


Earlier = tuple[int, float | None]  # a window's earlier entries: how many, and the look_back-th newest's time


class _Store(Protocol):
    def claim(self, windows: list[_Window], member: str, now: float, flag: str | None) -> tuple[list[Earlier], bool]:
        """Drop each window's entries older than its seconds and add `member` at `now` to every
        window, all at once. Returns what each window held before, and whether `flag` is set."""

    def release(self, keys: list[str], member: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def set_flag(self, key: str, seconds: float) -> None: ...


class _RedisStore:
    def __init__(self, client):
        self.client = client

    def claim(self, windows, member, now, flag):
        pipe = self.client.pipeline(transaction=True)  # MULTI: concurrent claims are serialised
        for window in windows:
            pipe.zremrangebyscore(window.key, "-inf", now - window.seconds)
            pipe.zcard(window.key)
            pipe.zrange(window.key, -window.look_back, -window.look_back, withscores=True)
            pipe.zadd(window.key, {member: now})
            pipe.expire(window.key, math.ceil(window.seconds))
        if flag:
            pipe.exists(flag)
        results = pipe.execute()
        earlier = []
        for n in range(len(windows)):
            count, entry = results[5 * n + 1], results[5 * n + 2]
            earlier.append((count, entry[0][1] if entry else None))
        return earlier, bool(flag and results[-1])

    def release(self, keys, member):
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(key, member)
        pipe.execute()

    def delete(self, key):
        self.client.delete(key)

    def set_flag(self, key, seconds):
        self.client.set(key, 1, ex=math.ceil(seconds))


class MemoryStore:
    """The same windows in this process, while Redis is unreachable. At most MAX_KEYS windows and as
    many flags (the least recently used go first), of at most MAX_ENTRIES entries each."""

    MAX_KEYS = 20_000
    MAX_ENTRIES = 200

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, list[tuple[float, str]]] = OrderedDict()  # key → [(time, member)]
        self._flags: OrderedDict[str, float] = OrderedDict()  # key → expiry

    def _put(self, table: OrderedDict, key: str, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.MAX_KEYS:
            table.popitem(last=False)

    def claim(self, windows, member, now, flag):
        with self._lock:
            earlier = []
            for window in windows:
                entries = [entry for entry in self._entries.get(window.key, []) if entry[0] > now - window.seconds]
                earlier.append((len(entries), entries[-window.look_back][0] if len(entries) >= window.look_back else None))
                self._put(self._entries, window.key, [*entries, (now, member)][-self.MAX_ENTRIES:])
            return earlier, bool(flag and self._flags.get(flag, 0.0) > now)

    def release(self, keys, member):
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries[key] = [entry for entry in self._entries[key] if entry[1] != member]

    def delete(self, key):
        with self._lock:
            self._entries.pop(key, None)

    def set_flag(self, key, seconds):
        with self._lock:
            self._put(self._flags, key, _clock() + seconds)


_memory = MemoryStore()
_redis_retry_at: dict[str, float] = {}  # Redis URL → when to try it again


def _store() -> _Store:
    url = settings().redis_url
    if url and time.monotonic() >= _redis_retry_at.get(url, 0.0):
        return _RedisStore(redis_client())
    return _memory


def _with_store(operation: str, act):
    """`act(store)` on Redis, or on the in-memory store if Redis fails (logged)."""
    store = _store()
    if store is _memory:
        return act(_memory)
    try:
        return act(store)
    except Exception as exc:
        log.warning("sign-in limits: Redis unavailable (%s) during %s; counting in this process for now", exc, operation)
        _redis_retry_at[settings().redis_url] = time.monotonic() + REDIS_RETRY_SECONDS
        return act(_memory)


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{kind}:{digest}"


def _until_window_frees(earlier: Earlier, window: _Window, now: float) -> float:
    """Seconds until fewer than the window's limit of its entries remain within it."""
    count, limit_th_newest = earlier
    return limit_th_newest + window.seconds - now if count >= window.look_back else 0.0


def _backoff(earlier: Earlier, free: int, cap: float, now: float) -> float:
    """Seconds until the next attempt may follow the latest one (a window looking back 1 entry):
    1, 2, 4 … after `free` failures, at most `cap`."""
    count, latest = earlier
    return latest + min(cap, 2.0 ** min(count - free, 30)) - now if count >= free else 0.0  # 2**30 s: past any cap


@dataclass(frozen=True)
class Attempt:
    """A counted attempt. It stays counted (a failed sign-in, a registration) unless cancelled."""

    member: str
    counted: tuple[str, ...]  # the windows it was added to
    known_flag: str  # set by a success: this client now holds a session of the account
    cleared_by_success: tuple[str, ...] = ()
    uncounted_by_success: tuple[str, ...] = ()

    def cancel(self) -> None:
        """Not an attempt after all (refused, or the password could not be checked)."""
        _with_store("release", lambda store: store.release(list(self.counted), self.member))

    def succeeded(self) -> None:
        def act(store: _Store) -> None:
            store.release(list(self.uncounted_by_success), self.member)
            for key in self.cleared_by_success:
                store.delete(key)
            store.set_flag(self.known_flag, settings().session_days * 86400)

        _with_store("success", act)


def _claim(windows: list[_Window], flag: str | None, limits: Callable[[list[Earlier], bool, float], Iterable[float]]) -> str:
    """Count a new attempt in `windows`; if `limits(what they held, flag set, now)` names a wait,
    uncount it and raise Throttled. Returns the attempt's member id."""
    member, now = uuid.uuid4().hex, _clock()
    earlier, flagged = _with_store("claim", lambda store: store.claim(windows, member, now, flag))
    wait = max(limits(earlier, flagged, now), default=0.0)
    if wait > 0:
        _with_store("release", lambda store: store.release([window.key for window in windows], member))
        raise Throttled(max(1, math.ceil(wait)))
    return member


def begin_sign_in(username: str, client: str) -> Attempt:
    """Count a sign-in attempt, or raise Throttled if a limit refuses it now. Call `succeeded()` on the
    result when the password was right, `cancel()` when it could not be checked."""
    config, name = settings(), username.strip().lower()
    pair, account, sprayer = _key("pair", name, client), _key("account", name), _key("client", client)
    known = _key("known", name, client)
    windows = [_Window(pair, WINDOW_SECONDS, look_back=MAX_FAILURES), _Window(account, LONG_WINDOW_SECONDS, look_back=1),
               _Window(sprayer, LONG_WINDOW_SECONDS, look_back=config.login_client_failures)]

    def limits(earlier: list[Earlier], known_client: bool, now: float) -> Iterable[float]:
        pair_failures, account_failures, client_failures = earlier
        yield _until_window_frees(pair_failures, windows[0], now)
        yield _until_window_frees(client_failures, windows[2], now)
        if not known_client:
            yield _backoff(account_failures, config.login_account_failures, config.login_backoff_max_seconds, now)

    member = _claim(windows, known, limits)
    # A success is no failure, and clears this client's failures for the account.
    return Attempt(member, (pair, account, sprayer), known, cleared_by_success=(pair,), uncounted_by_success=(account, sprayer))


def begin_registration(username: str, client: str) -> Attempt:
    """Count a new account for this client address, or raise Throttled. Cancel it if no account was
    made; after `succeeded()` the client holds a session of the new account (see begin_sign_in)."""
    key = _key("register", client)
    window = _Window(key, REGISTRATION_WINDOW_SECONDS, look_back=settings().registrations_per_hour)
    member = _claim([window], None, lambda earlier, _flag, now: [_until_window_frees(earlier[0], window, now)])
    return Attempt(member, (key,), _key("known", username.strip().lower(), client))
