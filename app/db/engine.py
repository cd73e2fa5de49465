"""Engine and sessions for SQLite (default) and PostgreSQL (several workers sharing the job table)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """`postgresql://…` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2, not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# The connection option that marks a transaction as read-only (see `read_transaction`).
READ_ONLY = "storeplane_read_only"


class PoolSettings(Protocol):
    """The knobs of a connection pool (`app.settings.Settings` has them: STOREPLANE_DB_POOL_*)."""

    db_pool_size: int
    db_max_overflow: int
    db_pool_timeout: float


def pool_arguments(settings: PoolSettings | None) -> dict[str, Any]:
    """create_engine arguments for the pool; None means Settings' defaults (tools, tests, Alembic)."""
    if settings is None:
        from app.settings import Settings  # app.settings does not import the database layer

        fields = Settings.model_fields
        size, overflow, timeout = (
            fields[f"db_{k}"].default for k in ("pool_size", "max_overflow", "pool_timeout")
        )
    else:
        size, overflow, timeout = settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout
    return {"pool_size": size, "max_overflow": overflow, "pool_timeout": timeout}


def make_engine(url: str, settings: PoolSettings | None = None) -> Engine:
    url = normalise_url(url)
    pool = pool_arguments(settings)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool)
    engine = create_engine(url, pool_pre_ping=True, **pool)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # The transaction's first statement, so PostgreSQL refuses any write in a read transaction.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _sqlite_engine(url: str, pool: dict[str, Any]) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        pool = {}  # an in-memory database lives in one connection: SQLAlchemy's singleton pool
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that the BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # A read transaction takes no lock at all: under WAL it reads a snapshot while the one
            # writer works, so a burst of reads never queues behind (or for) the write lock.
            # query_only makes SQLite refuse a write here, instead of the read upgrading to a write
            # half-way, which WAL may answer with SQLITE_BUSY at once (the reason writes are IMMEDIATE).
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.exec_driver_sql("BEGIN")
            return
        # SQLite has one writer. BEGIN IMMEDIATE takes the write lock up front (waiting up to
        # busy_timeout), so a transaction never fails half-way when it upgrades from read to write,
        # and a job claim is serialised against every other writer. query_only is per connection:
        # every BEGIN sets it, so a pooled connection never carries it from a read into a write.
        connection.exec_driver_sql("PRAGMA query_only = OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it takes no write lock (deferred BEGIN with
    query_only), on PostgreSQL it is READ ONLY. Either database refuses a write inside it, so a
    read path that starts writing fails in the tests rather than queueing behind the writer."""
    with factory() as session, session.begin():
        session.connection(execution_options={READ_ONLY: True})
        yield session
