"""Fleet operations (issue 13): what each store runs (chart version, engine version, values
digest), pinning, drift found by the sweep, and rollouts with their steps.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Not compatible back: this image queues `repair` jobs, a kind an older worker cannot parse (its
# claim would fail on that row at every poll and stop its whole queue).
oldest_compatible_revision: str = '0008'

_OPEN = "status IN ('running', 'paused', 'halted')"


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch copy of `stores` would trip the jobs' foreign keys.
    for column in (
        sa.Column('chart_version', sa.String(length=64), nullable=True),
        sa.Column('app_version', sa.String(length=64), nullable=True),
        sa.Column('values_digest', sa.String(length=16), nullable=True),
        sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('pinned_reason', sa.String(length=200), nullable=True),
        sa.Column('drifted', sa.Boolean(), nullable=True),
        sa.Column('drift', sa.JSON(), nullable=True),
        sa.Column('drift_checked_at', sa.DateTime(), nullable=True),
    ):
        op.add_column('stores', column)

    op.create_table('rollouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('selection', sa.JSON(), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('canary', sa.Integer(), nullable=False),
    sa.Column('wave_size', sa.Integer(), nullable=False),
    sa.Column('parallelism', sa.Integer(), nullable=False),
    sa.Column('max_failures', sa.Integer(), nullable=False),
    sa.Column('helm_test', sa.Boolean(), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rollouts') as batch:
        batch.create_index(batch.f('ix_rollouts_status'), ['status'], unique=False)
        batch.create_index('uq_rollouts_one_open', ['exclusive'], unique=True,
                           sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))

    op.create_table('rollout_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rollout_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.String(length=16), nullable=False),
    sa.Column('wave', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('from_revision', sa.Integer(), nullable=True),
    sa.Column('from_version', sa.String(length=64), nullable=True),
    sa.Column('to_revision', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.ForeignKeyConstraint(['rollout_id'], ['rollouts.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rollout_steps') as batch:
        batch.create_index(batch.f('ix_rollout_steps_rollout_id'), ['rollout_id'], unique=False)
        batch.create_index('uq_rollout_steps_store', ['rollout_id', 'store_id'], unique=True)
        batch.create_index('ix_rollout_steps_store_state', ['store_id', 'state'], unique=False)


def downgrade() -> None:
    # Development only: deployments never downgrade (app/db/migrate.py).
    op.drop_table('rollout_steps')
    op.drop_table('rollouts')
    with op.batch_alter_table('stores') as batch:
        for column in ('drift_checked_at', 'drift', 'drifted', 'pinned_reason', 'pinned',
                       'values_digest', 'app_version', 'chart_version'):
            batch.drop_column(column)
