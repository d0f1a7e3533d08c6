"""Throw-away installations for the benchmarks: a data folder, a migrated database, an embedded
Valkey, worker processes. The database is SQLite in the data folder, or, with BENCH_POSTGRES_URL set
(a server URL such as postgresql+psycopg://postgres@127.0.0.1:5432/postgres), a fresh PostgreSQL
database created for the run and dropped afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Admission control is off in the benchmarks: they measure build overhead, and other load on a shared
# machine must not hold the service's builds back while the raw tools run unhindered.
# The load generators register their many users from one address, past the per-address sign-up limit,
# and each of their users queues more builds (bench.load: --uploads / --clients at once) and opens more
# streams (bench.sse_load) than the per-user quotas allow: those are off (0).
BENCH_SETTINGS = {"WEBBUILDER_MAX_CPU_PERCENT": "100", "WEBBUILDER_MAX_MEMORY_PERCENT": "100",
                  "WEBBUILDER_REGISTRATIONS_PER_HOUR": "100000", "WEBBUILDER_QUOTA_ACTIVE_BUILDS": "0",
                  "WEBBUILDER_QUOTA_UPLOADS_PER_HOUR": "0", "WEBBUILDER_QUOTA_EVENT_STREAMS": "0"}


@contextmanager
def valkey() -> Iterator[str]:
    """A Valkey with a password, as `make run` starts it."""
    from workers.runtime.supervise import EmbeddedValkey, valkey_password

    with tempfile.TemporaryDirectory(prefix="webbuilder-valkey-") as folder:
        server = EmbeddedValkey(valkey_password(Path(folder)))
        try:
            yield server.url
        finally:
            server.stop()


@contextmanager
def installation(redis_url: str, **settings: str) -> Iterator[Path]:
    """A fresh data folder and database, set in os.environ for this process and its workers."""
    from workers.store.db import engine, migrate

    workdir = Path(tempfile.mkdtemp(prefix="webbuilder-bench-"))
    database_url, drop = _database()
    values = {
        "WEBBUILDER_DATA_DIR": str(workdir / "data"),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        **BENCH_SETTINGS,
        **settings,
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        migrate()
        yield workdir
    finally:
        engine().dispose()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(workdir, ignore_errors=True)
        drop()


def _database() -> tuple[str, Callable[[], None]]:
    """"" (SQLite in the data folder) or a fresh PostgreSQL database, and how to drop it."""
    server = os.environ.get("BENCH_POSTGRES_URL", "").strip()
    if not server:
        return "", lambda: None
    import psycopg

    name = f"wb_bench_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{server.rpartition('/')[0]}/{name}", drop


@contextmanager
def worker(threads: int = 1) -> Iterator[subprocess.Popen]:
    """One Dramatiq worker process of this installation, with the environment `make run` gives it."""
    from workers.runtime.supervise import child_env, worker_argv

    log = open(Path(os.environ["WEBBUILDER_DATA_DIR"]).parent / "worker.log", "ab")
    proc = subprocess.Popen(
        worker_argv(threads),
        cwd=ROOT,
        env=child_env(os.environ["REDIS_URL"]),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
