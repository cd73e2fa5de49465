"""Database fixtures: a migrated SQLite file, or a fresh database on a real PostgreSQL server.

PostgreSQL: STOREPLANE_TEST_PG_URL (an admin URL) if set; otherwise Debian's server binaries from
/usr/lib/postgresql/*/bin are started in a temporary directory on a free 127.0.0.1 port, as the
`postgres` user when we are root (initdb refuses to run as root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade_to_head


@dataclass
class Db:
    url: str
    engine: Engine
    factory: sessionmaker[Session]


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: `make system-deps` installs Debian's postgresql")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    done = subprocess.run(_as_postgres(args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    if url := os.environ.get("STOREPLANE_TEST_PG_URL"):
        yield url
        return
    with throwaway_postgres() as url:
        yield url


@contextmanager
def throwaway_postgres(port: int | None = None) -> Iterator[str]:
    """A PostgreSQL server of Debian's binaries in a temp dir; yields its admin URL (also for bench/).
    `port`: listen there (a test that starts a client before the server); default a free one."""
    bin_dir = _pg_bin()
    # Not under pytest's temp dir: that one is private to root and postgres must reach its files.
    root = Path(tempfile.mkdtemp(prefix="storeplane-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (root, sock):
            shutil.chown(path, "postgres", "postgres")
    port = port or free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres_database(admin_url: str) -> str:
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # name is ours: hex only
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'storeplane.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        yield Db(url=database_url, engine=engine, factory=make_sessionmaker(engine))
    finally:
        engine.dispose()
