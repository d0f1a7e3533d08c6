"""Migration 0004 makes usernames unique ignoring case without failing on accounts that already clash:
both keep working, the older one gets the key, and the clash is reported by name."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tests.conftest import ROOT, TEST_DATABASE_URL, _postgres_database
from workers.accounts import users as accounts
from workers.store.db import engine, session_scope


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def test_accounts_differing_only_in_case_survive_the_upgrade_and_are_reported(tmp_path, monkeypatch, caplog):
    url, drop = _postgres_database() if TEST_DATABASE_URL else (f"sqlite:///{tmp_path / 'old.db'}", None)
    monkeypatch.setenv("DATABASE_URL", url)
    config = alembic_config(url)
    try:
        command.upgrade(config, "0003")
        with engine().begin() as connection:
            connection.execute(text(
                "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES "
                "('alice', 'hash-of-alice', false, '2026-01-01 00:00:00'), ('Alice', 'hash-of-Alice', false, '2026-01-02 00:00:00')"
            ))
        with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
            command.upgrade(config, "head")

        with engine().connect() as connection:
            rows = connection.execute(text("SELECT username, username_key FROM users ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [("alice", "alice"), ("Alice", None)]
        clash = [record.getMessage() for record in caplog.records if "clash" in record.getMessage()]
        assert len(clash) == 1 and "'Alice'" in clash[0] and "'alice'" in clash[0]
        # Each signs in by its exact name; any other spelling is the keyed, older account.
        with session_scope() as session:
            assert accounts.find_user(session, "Alice").password_hash == "hash-of-Alice"
            assert accounts.find_user(session, "alice").password_hash == "hash-of-alice"
            assert accounts.find_user(session, "ALICE").password_hash == "hash-of-alice"
    finally:
        engine().dispose()
        if drop:
            drop()
