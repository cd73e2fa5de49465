"""Forward-only, rollback-safe migrations (`python -m app migrate`, `serve` on SQLite, tests).

A deployment never downgrades the schema: rolling the platform back runs an older image on the newer
schema. That works only if the newer schema says so, and only the newer code knows what it changed,
so every migration declares it:

    oldest_compatible_revision = "0002"   # the oldest image (schema head) that still runs on this

(its down_revision when the change is additive: new tables, nullable or defaulted columns; itself
when older code would break). The floor of a schema is the latest such declaration along its chain,
and the migration run records it in `schema_compatibility`, in the migrations' own transaction. An
image that finds a revision it does not know reads that record: if its own head is at or after the
floor it runs on the schema unchanged and says so in the log, otherwise it refuses with a message
that says what to do. Without this, Alembic stops at "Can't locate revision", every init container
crash-loops and `helm rollback --wait` times out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import OperationalError

from app.db.engine import make_engine
from app.errors import PermanentError
from app.settings import REPO_ROOT

log = logging.getLogger("storeplane.migrate")
# Alembic announces every plugin it loads at INFO; its "Running upgrade …" lines are the useful ones.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

COMPAT_TABLE = "schema_compatibility"
DECLARATION = "oldest_compatible_revision"


def alembic_config(url: str, *, script_location: Path | None = None) -> Config:
    """The Alembic config of this image; `script_location` lets tests play an image with other migrations."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["url"] = url
    if script_location is not None:
        config.set_main_option("script_location", str(script_location))
    return config


class Verdict(StrEnum):
    EMPTY = "empty"  # no schema yet: migrate from the start
    BEHIND = "behind"  # a revision this image knows, older than its head: migrate
    CURRENT = "current"  # this image's head: nothing to do
    NEWER_COMPATIBLE = "newer-compatible"  # newer than this image, declared compatible with it
    NEWER_INCOMPATIBLE = "newer-incompatible"  # newer, and not declared compatible: refuse


@dataclass(frozen=True)
class SchemaCheck:
    verdict: Verdict
    current: str | None  # the database's revision
    head: str  # this image's newest revision
    floor: str | None = None  # for a newer schema: the oldest image it declares it runs with

    @property
    def usable_as_is(self) -> bool:
        return self.verdict in (Verdict.CURRENT, Verdict.NEWER_COMPATIBLE)

    def describe(self) -> str:
        if self.verdict == Verdict.NEWER_COMPATIBLE:
            return (
                f"the database schema is at revision {self.current}, newer than this image's {self.head}; "
                f"it declares itself compatible with images from revision {self.floor} on, so this image "
                "runs on it unchanged (migrations are forward-only: upgrading the platform again finishes "
                "the job)"
            )
        if self.verdict == Verdict.NEWER_INCOMPATIBLE:
            declared = (
                f"it declares that it needs images from revision {self.floor} on"
                if self.floor
                else "it carries no compatibility record this image can read"
            )
            return (
                f"the database schema is at revision {self.current}, which this image (schema {self.head}) "
                f"does not know, and {declared}. Refusing to start on it: roll forward to an image that "
                "knows that revision, or restore the database backup taken before the upgrade together "
                "with this image"
            )
        if self.verdict == Verdict.CURRENT:
            return f"database is at the latest schema ({self.head})"
        if self.verdict == Verdict.EMPTY:
            return f"the database is empty; it needs migrating to {self.head}"
        return f"the database schema is at revision {self.current}; it needs migrating to {self.head}"


class SchemaTooNew(PermanentError):
    """The database schema is newer than this image and not declared compatible with it."""


class SchemaBehind(PermanentError):
    """The database schema is older than this image: run `python -m app migrate` first."""


class DatabaseUnavailable(PermanentError):
    """The database did not answer in time."""


# --- declarations ---------------------------------------------------------------------------------


def declared_floor(script: Script) -> str:
    """What one migration declares; a migration that says nothing is assumed to break older code."""
    value = getattr(script.module, DECLARATION, None)
    return value if isinstance(value, str) and value else script.revision


def schema_floor(scripts: ScriptDirectory, revision: str) -> str:
    """The oldest image revision that runs on the schema at `revision`: the latest (in chain order)
    of the declarations of every migration up to it."""
    chain = list(reversed(list(scripts.iterate_revisions(revision, "base"))))  # base → revision
    position = {s.revision: i for i, s in enumerate(chain)}
    floor = chain[0].revision
    for step in chain:
        declared = declared_floor(step)
        if declared not in position or position[declared] > position[step.revision]:
            raise CommandError(
                f"migration {step.revision} declares {DECLARATION} = {declared!r}, which is not "
                f"{step.revision} itself or one of the revisions before it"
            )
        if position[declared] > position[floor]:
            floor = declared
    return floor


def judge(
    scripts: ScriptDirectory, current: str | None, recorded_floor: Callable[[str], str | None]
) -> SchemaCheck:
    """Compare the database's revision with what this image's migrations know."""
    head = scripts.get_current_head()
    assert head is not None, "no migrations"
    if current is None:
        return SchemaCheck(Verdict.EMPTY, None, head)
    if current == head:
        return SchemaCheck(Verdict.CURRENT, current, head)
    try:
        scripts.get_revision(current)
    except CommandError:
        floor = recorded_floor(current)
        known_floor = floor is not None and _knows(scripts, floor)
        verdict = Verdict.NEWER_COMPATIBLE if known_floor else Verdict.NEWER_INCOMPATIBLE
        return SchemaCheck(verdict, current, head, floor)
    return SchemaCheck(Verdict.BEHIND, current, head)


def _first_line(exc: BaseException) -> str:
    """The driver's first line says what failed (host, port, refusal), never the URL's password."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _knows(scripts: ScriptDirectory, revision: str) -> bool:
    """A revision in this image's (linear) chain is at or before its head."""
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


# --- reading and writing the database ----------------------------------------------------------------


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise CommandError(f"the database has several schema heads ({', '.join(rows)}); expected one")
    return rows[0] if rows else None


def read_floor(connection: Connection, revision: str) -> str | None:
    if not inspect(connection).has_table(COMPAT_TABLE):
        return None
    query = text("SELECT oldest_compatible_revision FROM schema_compatibility WHERE revision = :r")
    return connection.execute(query, {"r": revision}).scalar_one_or_none()


def record_floor(connection: Connection, scripts: ScriptDirectory) -> None:
    """After migrating: write the head's floor, for older images that will find this schema."""
    head = current_revision(connection)
    if head is None or not inspect(connection).has_table(COMPAT_TABLE):
        return
    floor = schema_floor(scripts, head)
    if read_floor(connection, head) is None:
        connection.execute(
            text(
                "INSERT INTO schema_compatibility (revision, oldest_compatible_revision, recorded_at) "
                "VALUES (:r, :f, CURRENT_TIMESTAMP)"
            ),
            {"r": head, "f": floor},
        )


def check_connection(connection: Connection, scripts: ScriptDirectory) -> SchemaCheck:
    return judge(scripts, current_revision(connection), lambda rev: read_floor(connection, rev))


# --- entry points ---------------------------------------------------------------------------------


def upgrade_to_head(url: str, *, script_location: Path | None = None) -> SchemaCheck:
    """Migrate to this image's head, or run unchanged on a newer compatible schema (logged), or raise
    SchemaTooNew. The check and the migration happen in one transaction under migrations/env.py's
    lock, so concurrent pods of different images cannot interleave."""
    config = alembic_config(url, script_location=script_location)
    command.upgrade(config, "head")
    outcome: SchemaCheck = config.attributes["storeplane.check"]
    if outcome.verdict == Verdict.NEWER_INCOMPATIBLE:
        raise SchemaTooNew(outcome.describe())
    if outcome.verdict == Verdict.NEWER_COMPATIBLE:
        log.warning(outcome.describe(), extra={"schema": outcome.current, "image_schema": outcome.head})
    elif outcome.verdict == Verdict.CURRENT:
        log.info(outcome.describe())
    else:
        log.info(
            "database schema migrated from %s to %s",
            outcome.current or "nothing",
            outcome.head,
            extra={"schema": outcome.head},
        )
    return outcome


def verify_schema(url: str) -> SchemaCheck:
    """For processes that do not migrate (PostgreSQL `serve --no-workers`, `worker`): refuse a schema
    this image cannot use, say so when running on a newer compatible one."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            outcome = check_connection(connection, scripts)
    finally:
        engine.dispose()
    if outcome.verdict == Verdict.NEWER_INCOMPATIBLE:
        raise SchemaTooNew(outcome.describe())
    if not outcome.usable_as_is:
        raise SchemaBehind(f"{outcome.describe()}: run `python -m app migrate` first")
    if outcome.verdict == Verdict.NEWER_COMPATIBLE:
        log.warning(outcome.describe(), extra={"schema": outcome.current, "image_schema": outcome.head})
    return outcome


def wait_for_database(url: str, *, timeout: float, interval: float = 1.0) -> None:
    """Block until the database accepts a connection (first install: the bundled PostgreSQL starts
    next to the pods that migrate it), logging what it waits for; DatabaseUnavailable after `timeout`."""
    engine = make_engine(url)
    started = time.monotonic()
    last_report = started
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except OperationalError as exc:
                why = _first_line(exc.orig or exc)
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise DatabaseUnavailable(
                        f"the database did not accept a connection within {timeout:.0f} s ({why}); "
                        "check that it is running and that STOREPLANE_DATABASE_URL names it"
                    ) from exc
                if waited == 0 or time.monotonic() - last_report >= 10:
                    log.info("waiting for the database (%s), %.0f s so far", why, waited)
                    last_report = time.monotonic()
                time.sleep(min(interval, max(timeout - waited, 0.05)))
    finally:
        engine.dispose()
