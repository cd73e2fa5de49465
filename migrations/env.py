"""Alembic environment: the URL comes from the caller (app.db.migrate) or Storeplane's settings.

Online runs first judge the database against this image's migrations (app.db.migrate): only an empty
or older schema is migrated; a newer one is left alone and the verdict handed back to the caller,
which runs on it or refuses. Check, migration and the compatibility record share one transaction.
"""

from alembic import context
from sqlmodel import SQLModel

import app.db.models  # noqa: F401 - registers the tables on SQLModel.metadata
from app.db import migrate
from app.db.engine import make_engine
from app.settings import get_settings

config = context.config


def _url() -> str:
    return (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or (get_settings().effective_database_url)
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=SQLModel.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    try:
        # One transaction of our own around the lock, the check, every migration and the
        # compatibility record (Alembic sees it as external and adds none), on both databases.
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                # Every API and worker pod migrates in its init container: the lock makes concurrent
                # runs take turns (the later ones find the schema at head, or newer and compatible).
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7401823307)")
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                # SQLite cannot ALTER most things in place; batch mode copies the table instead.
                render_as_batch=connection.dialect.name == "sqlite",
            )
            check = migrate.check_connection(connection, context.script)
            config.attributes["storeplane.check"] = check
            if check.verdict in (migrate.Verdict.EMPTY, migrate.Verdict.BEHIND, migrate.Verdict.CURRENT):
                with context.begin_transaction():
                    context.run_migrations()
                migrate.record_floor(connection, context.script)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
