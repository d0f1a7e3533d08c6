"""scheduling and caches: build-cache outcome, in-flight dedupe link, project size for ETAs

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follows_job_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('build_cache', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('build_cache_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('source_files', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_bytes', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_build_jobs_follows_job_id', ['follows_job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_build_jobs_follows_job_id')
        batch_op.drop_column('source_bytes')
        batch_op.drop_column('source_files')
        batch_op.drop_column('build_cache_reason')
        batch_op.drop_column('build_cache')
        batch_op.drop_column('follows_job_id')
