"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.db.models  # noqa: F401 - registers the tables
from tests.fixtures_db import Db


def test_migrated_schema_matches_the_models(db: Db) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_the_one_active_job_per_store_index_is_partial_and_unique(db: Db) -> None:
    indexes = {i["name"]: i for i in inspect(db.engine).get_indexes("jobs")}
    assert indexes["uq_jobs_one_active_per_store"]["unique"]
    assert indexes["uq_jobs_one_active_per_store"]["column_names"] == ["store_id"]


def _at_0002(database_url: str) -> None:
    from alembic import command

    from app.db.migrate import alembic_config

    command.upgrade(alembic_config(database_url), "0002")


def _insert_0002_rows(database_url: str, stores: list[tuple[str, int, str, str]]) -> None:
    """Users 1 (alice) and 2 (bob), and (id, owner_id, name, status) stores, as 0002 stored them."""
    from sqlalchemy import create_engine, text

    from app.db.engine import normalise_url

    engine = create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        for uid, name in ((1, "alice"), (2, "bob")):
            conn.execute(
                text(
                    "INSERT INTO users (id, name, is_admin, created_at, disabled) "
                    "VALUES (:id, :n, false, '2026-01-01', false)"
                ),
                {"id": uid, "n": name},
            )
        for sid, owner, name, status in stores:
            conn.execute(
                text(
                    "INSERT INTO stores (id, owner_id, name, engine, status, namespace, host, chart_values, "
                    "created_at, updated_at) VALUES (:id, :o, :n, 'woocommerce', :s, :ns, :h, '{}', "
                    "'2026-01-01', '2026-01-01')"
                ),
                {
                    "id": sid,
                    "o": owner,
                    "n": name,
                    "s": status,
                    "ns": f"store-{sid}",
                    "h": f"{name}.localhost",
                },
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (store_id, kind, status, args, attempts, max_attempts, run_after, "
                    "cancel_requested, created_at) VALUES (:id, 'provision', 'queued', '{}', 0, 5, "
                    "'2026-01-01', false, '2026-01-01')"
                ),
                {"id": sid},
            )
    engine.dispose()


def test_0003_refuses_live_stores_of_two_owners_sharing_a_name_and_names_them(database_url: str) -> None:
    import pytest

    from app.db.migrate import upgrade_to_head

    _at_0002(database_url)
    _insert_0002_rows(
        database_url,
        [
            ("s-a", 1, "shop", "ready"),
            ("s-b", 2, "shop", "ready"),
            ("s-c", 2, "old", "deleted"),
            ("s-d", 1, "old", "ready"),
        ],
    )
    with pytest.raises(RuntimeError) as refused:
        upgrade_to_head(database_url)
    message = str(refused.value)
    assert "'shop': store s-a of alice; 'shop': store s-b of bob" in message
    assert "'old'" not in message  # a Deleted tombstone shares nothing


def test_0003_closes_stores_whose_name_was_never_a_dns_label(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    from app.db.engine import normalise_url
    from app.db.migrate import upgrade_to_head

    _at_0002(database_url)
    _insert_0002_rows(database_url, [("s-nl", 1, "nl\n", "failed"), ("s-ok", 2, "nl", "ready")])
    upgrade_to_head(database_url)
    engine = create_engine(normalise_url(database_url))
    with engine.connect() as conn:
        stores = dict(conn.execute(text("SELECT id, status FROM stores")).all())
        jobs = dict(conn.execute(text("SELECT store_id, status FROM jobs")).all())
        reason = conn.execute(text("SELECT status_reason FROM stores WHERE id = 's-nl'")).scalar_one()
    engine.dispose()
    assert stores == {"s-nl": "deleted", "s-ok": "ready"}
    assert jobs == {"s-nl": "cancelled", "s-ok": "queued"}
    assert "not a valid DNS label" in reason
