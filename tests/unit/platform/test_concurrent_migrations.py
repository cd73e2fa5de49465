"""Every API and worker pod runs `python -m app migrate` in an init container, so on install or
upgrade several run at once against one PostgreSQL: they must take turns, and all succeed."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from alembic.script import ScriptDirectory

from app.db.migrate import alembic_config
from tests.fixtures_db import fresh_postgres_database
from tests.unit.platform.platform_render import ROOT

PODS = 4


@pytest.mark.postgres
def test_concurrent_migrate_processes_all_succeed_and_reach_head(postgres_admin_url: str) -> None:
    url = fresh_postgres_database(postgres_admin_url)
    env = {**os.environ, "STOREPLANE_DATABASE_URL": url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PODS)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    for code, out, err in results:
        assert code == 0, err
        assert "database is at the latest schema" in out
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with psycopg.connect(url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    assert versions == [head]
