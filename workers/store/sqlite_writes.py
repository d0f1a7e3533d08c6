"""One writer at a time per process on SQLite, queued on a lock instead of SQLite's busy handler.

SQLite allows one write transaction at a time. A writer that finds the lock taken is retried by the
busy handler, which sleeps between tries (up to 100 ms each): with twenty upload threads in one web
process, unlucky writers lost every race and waited seconds. Here a connection takes a process-wide
lock just before its first write statement (when pysqlite opens the transaction) and gives it back
when the transaction ends, so the threads of one process take turns without sleeping. Other
processes (workers) still meet SQLite's busy handler, which is rare and short.
"""

from __future__ import annotations

import sqlite3
import threading

# Longer than any write transaction should take; past it the writer goes on and lets SQLite's busy
# timeout arbitrate, so a connection that leaked the lock can slow writers down but never stop them.
LOCK_WAIT_SECONDS = 30
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_process_lock = threading.Lock()


class SerializedWriteConnection(sqlite3.Connection):
    """A sqlite3 connection that holds the process's write lock for the length of a write transaction."""

    _holds_lock = False

    def before_statement(self, statement: str) -> None:
        """Called for every statement (SQLAlchemy's before_cursor_execute)."""
        if not self._holds_lock and not self.in_transaction and statement.lstrip()[:7].upper().startswith(_WRITES):
            self._holds_lock = _process_lock.acquire(timeout=LOCK_WAIT_SECONDS)

    def _release(self) -> None:
        if self._holds_lock:
            self._holds_lock = False
            _process_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
