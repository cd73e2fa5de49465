"""files/medusa/postgres-init.sh, the script the official postgres image's entrypoint runs once on
an empty data directory, run with bash and psql against a real PostgreSQL server (Debian's, the
same major as the chart's image): it creates Medusa's own role and database, owned by that role,
and the role is no superuser. psql variables keep the password out of the SQL text, so quotes in it
are harmless (the chart's generated ones are alphanumeric anyway)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.fixtures_db import postgres_admin_url  # noqa: F401 - fixture

SCRIPT = Path(__file__).resolve().parents[3] / "store-chart" / "files" / "medusa" / "postgres-init.sh"
pytestmark = pytest.mark.postgres


def run_init(admin_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    environ = {
        "PATH": os.environ["PATH"],
        "POSTGRES_USER": str(info["user"]),
        "PGHOST": str(info["host"]),
        "PGPORT": str(info["port"]),
        **env,
    }
    return subprocess.run(["bash", str(SCRIPT)], env=environ, capture_output=True, text=True, check=False)


def test_the_init_script_creates_medusas_role_and_database_owned_by_it(postgres_admin_url: str):  # noqa: F811
    password = 'it\'s "quoted"; DROP ROLE postgres; --'
    done = run_init(
        postgres_admin_url, MEDUSA_DB_USER="medusa_t", MEDUSA_DB_NAME="medusa_t", MEDUSA_DB_PASSWORD=password
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    with psycopg.connect(postgres_admin_url) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'medusa_t'"
        ).fetchone()
        role = conn.execute(
            "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'medusa_t'"
        ).fetchone()
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'postgres'").fetchone() == (1,)
    assert owner == ("medusa_t",)
    assert role == (False, True)


def test_the_init_script_refuses_to_run_without_its_variables(postgres_admin_url: str):  # noqa: F811
    done = run_init(postgres_admin_url, MEDUSA_DB_USER="medusa_u", MEDUSA_DB_NAME="medusa_u")
    assert done.returncode != 0
    assert "MEDUSA_DB_PASSWORD" in done.stderr
