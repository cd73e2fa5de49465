"""Rolling the platform back: this image (run for real, `python -m app …`) finds a schema migrated by
a newer image. It runs on it and says so when the newer schema declares itself compatible, and
refuses with a reason otherwise; on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.db.engine import make_engine
from app.db.migrate import SchemaTooNew, Verdict, alembic_config, schema_floor, upgrade_to_head
from tests.unit.platform.newer_image import NewerImage, this_image_head
from tests.unit.platform.platform_render import ROOT


def run_app(url: str, *args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STOREPLANE_DATABASE_URL": url,
        "STOREPLANE_DATA_DIR": str(data_dir),
        "STOREPLANE_KUBECONFIG": "",
        "KUBECONFIG": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def revision_of(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def log_lines(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_this_image_runs_on_a_newer_schema_that_declares_it_compatible(database_url, tmp_path):
    head = this_image_head()
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible=head, body="op.add_column('stores', sa.Column('note', sa.Text()))")
    newer.migrate(database_url)

    done = run_app(database_url, "migrate", data_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"the database schema is at revision 9001, newer than this image's {head}" in done.stdout
    assert f"compatible with images from revision {head} on" in done.stdout
    warnings = [line for line in log_lines(done.stderr) if line["level"] == "warning"]
    assert warnings and warnings[0]["schema"] == "9001" and warnings[0]["image_schema"] == head
    assert revision_of(database_url) == "9001", "the older image must not touch a newer schema"


def test_this_image_refuses_a_newer_schema_that_needs_newer_code(database_url, tmp_path):
    head = this_image_head()
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible="9001", body="op.drop_column('stores', 'status_reason')")
    newer.migrate(database_url)

    done = run_app(database_url, "migrate", data_dir=tmp_path)

    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert (
        f"error: the database schema is at revision 9001, which this image (schema {head}) does not "
        "know, and it declares that it needs images from revision 9001 on. Refusing to start on it: "
        "roll forward to an image that knows that revision, or restore the database backup"
    ) in done.stderr
    assert revision_of(database_url) == "9001"


def test_one_incompatible_step_in_a_chain_of_newer_migrations_is_enough_to_refuse(database_url, tmp_path):
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible="9001")  # breaks this image
    newer.add("9002", oldest_compatible="9001")  # additive on top of 9001
    newer.migrate(database_url)
    with pytest.raises(SchemaTooNew, match="it declares that it needs images from revision 9001 on"):
        upgrade_to_head(database_url)
    assert schema_floor(ScriptDirectory(str(newer.directory)), "9002") == "9001"


def test_a_newer_migration_that_declares_nothing_is_taken_as_incompatible(database_url, tmp_path):
    """In process from here on: the same code as `python -m app migrate`, quicker."""
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible=None)
    newer.migrate(database_url)
    with pytest.raises(SchemaTooNew, match="it declares that it needs images from revision 9001 on"):
        upgrade_to_head(database_url)


def test_a_newer_schema_without_a_compatibility_record_is_refused(database_url, tmp_path):
    """A schema whose record was lost (restored by hand, say) is refused, never guessed at."""
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible=this_image_head())
    newer.migrate(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM schema_compatibility"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaTooNew, match="it carries no compatibility record this image can read"):
        upgrade_to_head(database_url)


def test_migrating_forward_again_after_the_rollback_finishes_the_job(database_url, tmp_path):
    """Rollback (old image on the new schema), then roll forward: the newer image migrates on."""
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible=this_image_head())
    newer.migrate(database_url)
    assert upgrade_to_head(database_url).verdict == Verdict.NEWER_COMPATIBLE
    newer.add("9002", oldest_compatible="9001")
    assert newer.migrate(database_url).current == "9001"
    assert revision_of(database_url) == "9002"


def test_serve_on_sqlite_refuses_an_incompatible_schema_with_the_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'storeplane.db'}"
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible="9001")
    newer.migrate(url)

    done = run_app(url, "serve", "--no-workers", data_dir=tmp_path)

    assert done.returncode != 0
    refusal = [line for line in log_lines(done.stderr) if line["level"] == "critical"]
    assert refusal and str(refusal[0]["message"]).startswith(
        "cannot start: the database schema is at revision 9001, which this image"
    )


@pytest.mark.postgres
def test_worker_on_postgresql_refuses_an_incompatible_schema_with_the_reason(postgres_admin_url, tmp_path):
    from tests.fixtures_db import fresh_postgres_database

    url = fresh_postgres_database(postgres_admin_url)
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible="9001")
    newer.migrate(url)

    done = run_app(url, "worker", data_dir=tmp_path)

    assert done.returncode == 3
    refusal = [line for line in log_lines(done.stderr) if line["level"] == "critical"]
    assert refusal and "which this image" in str(refusal[0]["message"])


def test_every_migration_declares_which_older_images_run_on_its_schema():
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    for script in scripts.walk_revisions():
        declared = getattr(script.module, "oldest_compatible_revision", None)
        assert isinstance(declared, str) and declared, (
            f"migration {script.revision} ({Path(script.path).name}) does not declare "
            "oldest_compatible_revision: set it to its down_revision when older images still run on "
            "the new schema (added tables, nullable or defaulted columns), or to its own revision "
            "when they would break (app/db/migrate.py)"
        )
    schema_floor(scripts, this_image_head())  # every declaration names an earlier revision


def test_a_declaration_naming_a_later_revision_is_an_error(tmp_path):
    newer = NewerImage.create(tmp_path)
    newer.add("9001", oldest_compatible="9002")
    newer.add("9002", oldest_compatible="9001")
    with pytest.raises(Exception, match="declares oldest_compatible_revision = '9002', which is not 9001"):
        schema_floor(ScriptDirectory(str(newer.directory)), "9002")


def test_the_compatibility_record_is_written_with_the_migration(database_url):
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT revision, oldest_compatible_revision FROM schema_compatibility")
            ).all()
    finally:
        engine.dispose()
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    assert [tuple(r) for r in rows] == [(this_image_head(), schema_floor(scripts, this_image_head()))]
