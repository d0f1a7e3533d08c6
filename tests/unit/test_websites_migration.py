"""Migration 0006: each user's websites of one name become one website whose deployments are their
jobs, its newest completed job live; every website gets a unique slug from its name."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from tests.conftest import TEST_DATABASE_URL, _postgres_database
from tests.unit.test_username_key_migration import alembic_config
from workers.store.db import engine

pytestmark = pytest.mark.integration  # on PostgreSQL too, in CI
ROWS = """
INSERT INTO users (id, username, username_key, password_hash, is_admin, created_at, email_notifications) VALUES
  (1, 'alice', 'alice', 'h', false, '2026-01-01 00:00:00', false), (2, 'bob', 'bob', 'h', false, '2026-01-01 00:00:00', false);
INSERT INTO websites (id, user_id, name, type, build_job_id, created_at, updated_at) VALUES
  (1, 1, 'Shop', 'static', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
  (2, 1, 'Shop', 'static', 2, '2026-01-02 00:00:00', '2026-01-02 00:00:00'),
  (3, 1, 'Shop', 'static', 3, '2026-01-03 00:00:00', '2026-01-03 00:00:00'),
  (4, 1, 'Blog', 'static', 4, '2026-01-04 00:00:00', '2026-01-04 00:00:00'),
  (5, 2, 'Shop', 'static', 5, '2026-01-05 00:00:00', '2026-01-05 00:00:00'),
  (6, 2, 'www', 'static', NULL, '2026-01-05 00:00:00', '2026-01-05 00:00:00');
INSERT INTO build_jobs (id, website_id, user_id, status, priority, progress, current_step, logs, created_at, completed_at,
                        notification_sent, attempts, cancel_requested) VALUES
  (1, 1, 1, 'completed', 0, 100, 'completed', '', '2026-01-01 00:00:00', '2026-01-01 00:01:00', true, 1, false),
  (2, 2, 1, 'completed', 0, 100, 'completed', '', '2026-01-02 00:00:00', '2026-01-02 00:01:00', true, 1, false),
  (3, 3, 1, 'failed', 0, 50, 'failed at build', '', '2026-01-03 00:00:00', '2026-01-03 00:01:00', true, 1, false),
  (4, 4, 1, 'failed', 0, 50, 'failed at build', '', '2026-01-04 00:00:00', '2026-01-04 00:01:00', true, 1, false),
  (5, 5, 2, 'completed', 0, 100, 'completed', '', '2026-01-05 00:00:00', '2026-01-05 00:01:00', true, 1, false);
"""


def test_same_name_websites_merge_into_one_with_its_newest_completed_job_live(tmp_path, monkeypatch):
    url, drop = _postgres_database() if TEST_DATABASE_URL else (f"sqlite:///{tmp_path / 'old.db'}", None)
    monkeypatch.setenv("DATABASE_URL", url)
    config = alembic_config(url)
    try:
        command.upgrade(config, "0005")
        with engine().begin() as connection:
            for statement in filter(str.strip, ROWS.split(";")):
                connection.execute(text(statement))
        command.upgrade(config, "head")
        with engine().connect() as connection:
            sites = connection.execute(text("SELECT id, user_id, name, slug, build_job_id, live_job_id, auto_publish FROM websites ORDER BY id")).all()
            jobs = dict(connection.execute(text("SELECT id, website_id FROM build_jobs")).all())
            promotions = connection.execute(text("SELECT website_id, job_id, user_id FROM promotions ORDER BY website_id")).all()
            slugs = dict(connection.execute(text("SELECT slug, website_id FROM website_slugs")).all())
        assert [tuple(row) for row in sites] == [
            (1, 1, "Shop", "shop", 3, 2, True),  # three uploads of "Shop": one website, the newest completed live
            (4, 1, "Blog", "blog", 4, None, True),  # nothing completed: nothing live
            (5, 2, "Shop", "shop-2", 5, 5, True),  # Bob's is his own website
            (6, 2, "www", "www-site", None, None, True),  # never a reserved label
        ]
        assert jobs == {1: 1, 2: 1, 3: 1, 4: 4, 5: 5}
        assert [tuple(row) for row in promotions] == [(1, 2, None), (5, 5, None)]
        assert slugs == {"shop": 1, "blog": 4, "shop-2": 5, "www-site": 6}
    finally:
        engine().dispose()
        if drop:
            drop()
