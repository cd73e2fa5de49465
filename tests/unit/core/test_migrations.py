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
