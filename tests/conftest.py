"""Shared fixtures: a fresh database per test, Redis, real worker processes, the whole app.

By default tests use SQLite and an embedded Valkey. Set WEBBUILDER_TEST_DATABASE_URL (a PostgreSQL
server URL; a fresh database is created per test) and WEBBUILDER_TEST_REDIS_URL to run the same tests
on real servers, as CI does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("WEBBUILDER_TEST_DATABASE_URL", "").strip()
TEST_REDIS_URL = os.environ.get("WEBBUILDER_TEST_REDIS_URL", "").strip()


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until `predicate()` is truthy or the deadline passes; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def next_redis_db(url: str) -> str:
    """The same server, the next database number: for an app that outlives per-test flushes."""
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db) + 1}" if db.isdigit() else f"{url.rstrip('/')}/1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    from workers.runtime.supervise import EmbeddedValkey, valkey_password

    server = EmbeddedValkey(valkey_password(tmp_path_factory.mktemp("valkey")))  # with a password, as `make run`'s
    yield server.url
    server.stop()


def _postgres_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"wb_test_{uuid.uuid4().hex[:12]}"
    admin_url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = TEST_DATABASE_URL.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture
def env(tmp_path, monkeypatch, redis_url) -> Iterator[dict[str, str]]:
    """A migrated empty database, a data folder and a clean Redis, set in os.environ."""
    from workers.store.db import engine, migrate

    data_dir = tmp_path / "data"
    monkeypatch.setenv("WEBBUILDER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("REDIS_URL", redis_url)
    # Admission control has its own tests (an injected load probe); elsewhere a busy shared test
    # machine (CPU above the default 80%) must not hold builds back.
    monkeypatch.setenv("WEBBUILDER_MAX_CPU_PERCENT", "100")
    # The tests' webhook receivers listen on 127.0.0.1; tests/unit/test_webhook_egress.py turns this off.
    monkeypatch.setenv("WEBBUILDER_WEBHOOK_ALLOW_PRIVATE", "1")
    drop = None
    if TEST_DATABASE_URL:
        url, drop = _postgres_database()
        monkeypatch.setenv("DATABASE_URL", url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    redis.Redis.from_url(redis_url).flushdb()
    migrate()
    yield {
        "WEBBUILDER_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        **({"DATABASE_URL": os.environ["DATABASE_URL"]} if TEST_DATABASE_URL else {}),
    }
    engine().dispose()
    if drop:
        drop()


class Processes:
    """Real child processes (workers, the app), each in its own group, killed at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], extra_env: dict[str, str], log_name: str) -> subprocess.Popen:
        env = {**os.environ, **extra_env, "PYTHONUNBUFFERED": "1"}
        log = open(self.tmp_path / log_name, "ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(proc)
        return proc

    def worker(self, extra_env: dict[str, str], threads: int = 2) -> subprocess.Popen:
        """A worker process as `make run` starts one, with `threads` build threads."""
        from workers.runtime.supervise import worker_argv

        return self.start(worker_argv(threads), {"dramatiq_queue_prefetch": str(threads), **extra_env}, f"worker-{len(self.started)}.log")

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()


@pytest.fixture
def receiver():
    """receiver(*status codes) -> a local webhook receiver answering them in turn (tests/webhook_receiver.py)."""
    from tests.webhook_receiver import receivers

    yield from receivers()


@pytest.fixture
def mailbox():
    """A local SMTP server keeping what it receives (tests/mailbox.py); `mailbox.smtp_env()` points
    the app at it."""
    from tests.mailbox import serve_mailbox

    yield from serve_mailbox()


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.kill_all()
