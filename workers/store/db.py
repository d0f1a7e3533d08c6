"""Engine and sessions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from workers.config import settings
from workers.store.sqlite_writes import SerializedWriteConnection

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a worker keeps retrying a write it cannot do without (a build's end) while the database
# is unreachable: past a lease or two the job has been handed to another worker anyway.
OUTAGE_RETRY_SECONDS = 60.0


@functools.cache
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            _private_sqlite_file(Path(db_path))
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False, "factory": SerializedWriteConnection}
        )

        @event.listens_for(engine, "before_cursor_execute")
        def _take_write_turn(conn, _cursor, statement, _parameters, _context, _executemany):
            conn.connection.dbapi_connection.before_statement(statement)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the web app read while a worker writes; the busy timeout makes writers queue.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _private_sqlite_file(path: Path) -> None:
    """The database file readable by its owner only (0600), made so before SQLite opens it: SQLite
    gives its -wal and -shm files the database file's mode. A folder it has to create is 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if file.exists():
            file.chmod(0o600)  # made before this rule


def engine() -> Engine:
    return _engine_for(settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def retry_while_unreachable(transaction: Callable[[], T], within: float = OUTAGE_RETRY_SECONDS) -> T:
    """Run `transaction` (a whole session_scope), again while the database cannot be reached, for up
    to `within` seconds. A restarted or failed-over database (OperationalError: refused, dropped
    connection, SQLite busy) must not turn a finished build into one that is built again."""
    deadline = time.monotonic() + within
    delay = 0.2
    while True:
        try:
            return transaction()
        except OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unreachable, retrying in %.1f s: %s", delay, str(exc).splitlines()[0])
            time.sleep(delay)
            delay = min(2.0, delay * 2)


def migrate() -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parents[2]
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "alembic"))
    cfg.set_main_option("sqlalchemy.url", settings().database_url.replace("%", "%%"))
    command.upgrade(cfg, "head")
