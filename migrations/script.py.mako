"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
# The oldest image (schema head) that still runs on the schema this migration produces, so a
# rollback of the platform can run that image on it (app/db/migrate.py). Additive changes (new
# tables, nullable or defaulted columns) keep the previous image working: its down_revision.
# A change older code cannot live with: this revision itself. Required: tests refuse a migration
# that does not say.
oldest_compatible_revision: str = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
