"""First install with the bundled PostgreSQL: the migrate init container starts next to a database
that is not up yet. `python -m app migrate --wait-seconds N` (the chart's command) waits for it and
migrates, instead of crash-looping past `helm install --wait`; after N seconds it gives up clearly.
Real processes, a real PostgreSQL started after the client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_db import free_port, throwaway_postgres
from tests.unit.platform.platform_render import ROOT


def start_migrate(url: str, wait_seconds: int, data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "STOREPLANE_DATABASE_URL": url, "STOREPLANE_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "app", "migrate", "--wait-seconds", str(wait_seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres
def test_migrate_waits_for_a_database_that_starts_after_it(tmp_path: Path) -> None:
    port = free_port()
    migrate = start_migrate(f"postgresql://postgres@127.0.0.1:{port}/postgres", 120, tmp_path)
    try:
        # The client is up and knocking before the server exists: it says so before we start it.
        assert migrate.stderr is not None
        said = ""
        while "waiting for the database (" not in said:
            line = migrate.stderr.readline()
            assert line, f"migrate ended before it waited: {migrate.communicate()}"
            said = line
        assert "connection" in said.lower() or "refused" in said.lower(), said
        with throwaway_postgres(port=port):
            out, err = migrate.communicate(timeout=120)
    finally:
        if migrate.poll() is None:
            migrate.kill()
    assert migrate.returncode == 0, err
    assert "database is at the latest schema" in out


def test_migrate_gives_up_after_its_wait_with_a_clear_message(tmp_path: Path) -> None:
    migrate = start_migrate(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", 2, tmp_path)
    _, err = migrate.communicate(timeout=60)
    assert migrate.returncode == 3
    assert "error: the database did not accept a connection within 2 s (" in err
    assert "Traceback" not in err
