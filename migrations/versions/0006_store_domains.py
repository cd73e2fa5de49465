"""Custom domains (issue 12): the store_domains table and the primary host a store's release serves.

Additive: a new table and a nullable column. An older image runs on this schema unchanged; its store
actions do not know about linked domains, so an upgrade it runs serves the default host only until
this version runs again, and the reconciler of this version frees the domains of stores an older
image deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-16 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# A new table and a nullable column only: the previous image runs on this schema unchanged.
oldest_compatible_revision: str = '0004'

_CLAIMED = "state IN ('verified', 'active', 'removing')"


def upgrade() -> None:
    op.create_table('store_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('held', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('checks', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('next_check_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('store_domains', schema=None) as batch_op:
        batch_op.create_index('ix_store_domains_due', ['state', 'next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_store_domains_store_id'), ['store_id'], unique=False)
        batch_op.create_index('uq_store_domains_claimed_name', ['name'], unique=True, sqlite_where=sa.text(_CLAIMED), postgresql_where=sa.text(_CLAIMED))
        batch_op.create_index('uq_store_domains_store_name', ['store_id', 'name'], unique=True)

    # Not in batch mode: SQLite adds a nullable column in place (a batch copy of `stores` could not
    # drop the old table under the foreign keys of jobs and events).
    op.add_column('stores', sa.Column('primary_host', sa.String(length=253), nullable=True))


def downgrade() -> None:
    # Development only: deployments never downgrade (app/db/migrate.py).
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('primary_host')
    op.drop_table('store_domains')
