"""Writers of one process take turns on SQLite's single write lock without failing or starving."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import func, select

from tests.helpers import make_user
from workers.store.db import engine, session_scope
from workers.store.models import User, UserNotification


@pytest.fixture
def sqlite_env(env):
    if engine().dialect.name != "sqlite":
        pytest.skip("SQLite's single writer only")
    return env


def test_twenty_threads_writing_at_once_all_commit(sqlite_env):
    user_id = make_user()
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def write(n: int) -> None:
        start.wait()
        try:
            for k in range(10):
                with session_scope() as session:
                    session.add(UserNotification(user_id=user_id, type="queued", title=f"{n}-{k}", message=""))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(UserNotification)).one() == 200


def test_a_failed_write_transaction_gives_the_turn_back(sqlite_env):
    user_id = make_user()
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            session.get(User, user_id).is_admin = True
            session.flush()  # the write lock is taken here
            raise RuntimeError("the request failed half-way")
    done = threading.Event()

    def write_from_another_thread() -> None:
        with session_scope() as session:
            session.get(User, user_id).is_admin = True
        done.set()

    threading.Thread(target=write_from_another_thread).start()
    assert done.wait(timeout=5), "the next writer waited on a turn that was never given back"
    with session_scope() as session:
        assert session.get(User, user_id).is_admin
