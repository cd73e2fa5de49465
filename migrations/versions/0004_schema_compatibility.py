"""Schema compatibility record (issue 14): for each schema revision this database was migrated to,
the oldest image that may run on it, so a rolled-back image can decide to run or refuse
(app/db/migrate.py). Additive: older images never read the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# A new table only: the previous image runs on this schema unchanged.
oldest_compatible_revision: str = '0003'


def upgrade() -> None:
    op.create_table('schema_compatibility',
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.Column('oldest_compatible_revision', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('revision')
    )


def downgrade() -> None:
    # Development only: deployments never downgrade (app/db/migrate.py).
    op.drop_table('schema_compatibility')
