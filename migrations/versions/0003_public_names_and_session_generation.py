"""Hardening (issue 8): store names unique across the platform among live stores (the name is the
public host), and a per-user session generation that ends dashboard sessions on the server.

Before the index: stores whose name is not a DNS label (a trailing newline slipped past validation)
never got a Helm release; they are closed as Deleted with the reason, their queued or running jobs
cancelled, so the slot and the name are free (the reconciler removes their empty namespace). Two live
stores of different owners with one name cannot both keep it: the migration stops and names them,
because only a person can decide whose store keeps the host.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# An older image would check names per owner only and trip over the new index: not compatible back.
oldest_compatible_revision: str = '0003'

_LIVE = "status != 'deleted'"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _close_invalid_names(bind: sa.Connection) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = bind.execute(sa.text(f"SELECT id, name FROM stores WHERE {_LIVE}")).all()
    for store_id, name in rows:
        if _DNS_LABEL.fullmatch(name) and len(name) <= 30:
            continue
        bind.execute(
            sa.text(
                "UPDATE jobs SET status = 'cancelled', finished_at = :now "
                "WHERE store_id = :id AND status IN ('queued', 'running')"
            ),
            {"id": store_id, "now": now},
        )
        bind.execute(
            sa.text(
                "UPDATE stores SET status = 'deleted', deleted_at = :now, updated_at = :now, "
                "status_reason = :reason WHERE id = :id"
            ),
            {
                "id": store_id,
                "now": now,
                "reason": "closed by the upgrade: its name is not a valid DNS label, so it was never installed",
            },
        )


def _refuse_shared_names(bind: sa.Connection) -> None:
    shared = bind.execute(
        sa.text(
            f"SELECT s.name, s.id, u.name FROM stores s JOIN users u ON u.id = s.owner_id "
            f"WHERE s.{_LIVE} AND s.name IN "
            f"(SELECT name FROM stores WHERE {_LIVE} GROUP BY name HAVING count(*) > 1) "
            "ORDER BY s.name, s.created_at"
        )
    ).all()
    if shared:
        listing = "; ".join(f"{name!r}: store {sid} of {owner}" for name, sid, owner in shared)
        raise RuntimeError(
            "store names must now be unique across the platform (each is a public host), but live "
            f"stores share a name: {listing}. Delete all but one store of each name with the "
            "previous version (DELETE /api/v1/stores/{id}), wait until they are deleted, then migrate again."
        )


def upgrade() -> None:
    bind = op.get_bind()
    _close_invalid_names(bind)
    _refuse_shared_names(bind)
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index('uq_stores_owner_name_live', sqlite_where=sa.text(_LIVE), postgresql_where=sa.text(_LIVE))
        batch_op.create_index('uq_stores_name_live', ['name'], unique=True, sqlite_where=sa.text(_LIVE), postgresql_where=sa.text(_LIVE))

    # Not in batch mode: SQLite adds a column with a constant default in place, while a batch copy of
    # `users` could not drop the old table under the foreign keys of existing stores and tokens.
    op.add_column('users', sa.Column('session_generation', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index('uq_stores_name_live', sqlite_where=sa.text(_LIVE), postgresql_where=sa.text(_LIVE))
        batch_op.create_index('uq_stores_owner_name_live', ['owner_id', 'name'], unique=True, sqlite_where=sa.text(_LIVE), postgresql_where=sa.text(_LIVE))
