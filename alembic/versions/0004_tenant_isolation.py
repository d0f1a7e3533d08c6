"""tenant isolation: case-insensitive usernames, session clients, verified email addresses, site sizes

Usernames become unique ignoring case through `users.username_key`. An existing account whose name
clashes with an older one (e.g. "Alice" after "alice") keeps its name but gets no key; the clash is
reported here, not raised, and such an account can still sign in with its exact name.

Revision ID: 0004
Revises: 0003
"""
import logging

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('email_verified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('email_verification_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('email_verification_sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('username', sa.String), sa.column('username_key', sa.String))
    owners: dict[str, tuple[int, str]] = {}
    for user_id, username in connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        key = username.lower()
        if key in owners:
            first_id, first_name = owners[key]
            log.warning("username clash: %r (id %d) differs only in case from %r (id %d); it keeps its name "
                        "but no new account can take either spelling; rename one of them", username, user_id, first_name, first_id)
            continue
        owners[key] = (user_id, username)
        connection.execute(users.update().where(users.c.id == user_id).values(username_key=key))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_username_key'), ['username_key'], unique=True)

    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=''))

    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_bytes', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.drop_column('site_bytes')
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_column('client')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username_key'))
        batch_op.drop_column('email_verification_sent_at')
        batch_op.drop_column('email_verification_hash')
        batch_op.drop_column('email_verified_at')
        batch_op.drop_column('username_key')
