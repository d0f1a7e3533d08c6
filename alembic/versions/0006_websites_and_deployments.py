"""websites and deployments: a stable slug per website, its live deployment, promotions, retention

Each user's websites of the same name become one website whose deployments are their jobs (they were
one site uploaded again); its newest completed job is live, recorded as an auto-publish. Every
website gets a slug from its name, kept in `website_slugs` so no slug is ever given twice.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from workers.jobs.slugs import candidates

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

websites = sa.table(
    'websites', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer), sa.column('name', sa.String),
    sa.column('type', sa.String), sa.column('slug', sa.String), sa.column('build_job_id', sa.Integer),
    sa.column('live_job_id', sa.Integer), sa.column('updated_at', sa.DateTime),
)
jobs = sa.table(
    'build_jobs', sa.column('id', sa.Integer), sa.column('website_id', sa.Integer), sa.column('status', sa.String),
    sa.column('completed_at', sa.DateTime),
)
slugs = sa.table('website_slugs', sa.column('slug', sa.String), sa.column('website_id', sa.Integer), sa.column('created_at', sa.DateTime))
promotions = sa.table(
    'promotions', sa.column('website_id', sa.Integer), sa.column('job_id', sa.Integer), sa.column('user_id', sa.Integer),
    sa.column('created_at', sa.DateTime),
)


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite has them, and rebuilding `websites` would trip the jobs' foreign keys.
    op.add_column('websites', sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True))
    op.add_column('websites', sa.Column('live_job_id', sa.Integer(), nullable=True))
    op.add_column('websites', sa.Column('auto_publish', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('websites', sa.Column('settings', sa.JSON(), nullable=True))
    op.add_column('websites', sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('build_jobs', sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    op.add_column('build_jobs', sa.Column('clean_build', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('build_jobs', sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table('website_slugs',
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('website_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['website_id'], ['websites.id'], ),
    sa.PrimaryKeyConstraint('slug')
    )
    with op.batch_alter_table('website_slugs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_website_slugs_website_id'), ['website_id'], unique=False)
    op.create_table('promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('website_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['build_jobs.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['website_id'], ['websites.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotions_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotions_website_id'), ['website_id'], unique=False)

    merge_same_names(op.get_bind())

    op.create_index('ix_websites_slug', 'websites', ['slug'], unique=True)


def merge_same_names(connection) -> None:
    """One website per (user, name), the oldest row; then its slug, newest job and live job."""
    kept: dict[tuple[int, str], int] = {}
    for website_id, user_id, name in connection.execute(sa.select(websites.c.id, websites.c.user_id, websites.c.name).order_by(websites.c.id)).all():
        keeper = kept.setdefault((user_id, name), website_id)
        if keeper != website_id:
            connection.execute(jobs.update().where(jobs.c.website_id == website_id).values(website_id=keeper))
            connection.execute(websites.delete().where(websites.c.id == website_id))
    taken: set[str] = set()
    for (_user_id, name), website_id in kept.items():
        slug = next(candidate for candidate in candidates(name) if candidate not in taken)
        taken.add(slug)
        rows = connection.execute(
            sa.select(jobs.c.id, jobs.c.status, jobs.c.completed_at).where(jobs.c.website_id == website_id).order_by(jobs.c.id)).all()
        newest = rows[-1].id if rows else None
        done = [row for row in rows if row.status == 'completed']
        live = max(done, key=lambda row: (row.completed_at is not None, row.completed_at or 0, row.id)) if done else None
        connection.execute(websites.update().where(websites.c.id == website_id).values(
            slug=slug, build_job_id=newest, live_job_id=live.id if live else None))
        connection.execute(slugs.insert().values(slug=slug, website_id=website_id, created_at=sa.func.now()))
        if live is not None:
            connection.execute(promotions.insert().values(
                website_id=website_id, job_id=live.id, user_id=None, created_at=live.completed_at or sa.func.now()))


def downgrade() -> None:
    op.drop_index('ix_websites_slug', 'websites')
    op.drop_table('promotions')
    op.drop_table('website_slugs')
    with op.batch_alter_table('build_jobs', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('clean_build')
        batch_op.drop_column('message')
    with op.batch_alter_table('websites', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('settings')
        batch_op.drop_column('auto_publish')
        batch_op.drop_column('live_job_id')
        batch_op.drop_column('slug')
