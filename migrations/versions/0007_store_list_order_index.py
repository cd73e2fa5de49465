"""Store list pages (issue 15): an index on stores(created_at, id), the list's order read backwards,
so a page of the list is an index range rather than a sort of every store. Additive: older images
run on this schema unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# An index only: the previous image runs on this schema unchanged.
oldest_compatible_revision: str = '0006'


def upgrade() -> None:
    op.create_index('ix_stores_list_order', 'stores', ['created_at', 'id'], unique=False)


def downgrade() -> None:
    # Development only: deployments never downgrade (app/db/migrate.py).
    op.drop_index('ix_stores_list_order', table_name='stores')
