"""Alembic environment: migrates whichever database workers.config points at."""

from alembic import context
from sqlmodel import SQLModel

import workers.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from workers.store.db import engine

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    with engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
