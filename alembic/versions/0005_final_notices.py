"""final notices: drop build_jobs.allocated_port, mark the final notices already sent

`allocated_port` was the seed's port for a `vite preview` server; sites are served as static files
from their own origin, so nothing used it. `notification_sent` now means "the job's final notice (completed,
failed or cancelled) is in the bell": rows that ended before without the flag but with such a
notice get it, so the maintenance sweep does not send them again.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

FINAL_KINDS = ("completed", "failed", "cancelled")


def upgrade() -> None:
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.drop_column('allocated_port')
    jobs = sa.table('build_jobs', sa.column('id', sa.Integer), sa.column('notification_sent', sa.Boolean))
    notes = sa.table('user_notifications', sa.column('job_id', sa.Integer), sa.column('type', sa.String))
    with_final_notice = sa.select(notes.c.job_id).where(notes.c.type.in_(FINAL_KINDS))
    op.get_bind().execute(sa.update(jobs).where(jobs.c.id.in_(with_final_notice)).values(notification_sent=True))


def downgrade() -> None:
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allocated_port', sa.Integer(), nullable=True))
