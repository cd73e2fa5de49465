"""Jobs that only wait on the cluster hold no worker slot (issue 9): `jobs.waiting_for` says what a
running job waits for (NULL while it works). Deadlines now start at a job's first pick-up; the
column `deadline_at` is unchanged, only when it is written.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
# A new nullable column: images from 0004 on run on this schema unchanged.
oldest_compatible_revision: str = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('waiting_for', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('waiting_for')
