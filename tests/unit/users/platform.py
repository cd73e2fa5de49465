"""A running Storeplane app (workers off) on a migrated database, with helpers to log in and scan."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from app.auth import accounts
from app.db.engine import transaction
from app.db.models import AuditEntry
from app.logging import configure_logging
from app.main import create_app
from app.settings import Settings
from tests.fixtures_db import Db

ADMIN_PASSWORD = "first-Rooster-passw0rd"
PEER = "203.0.113.10"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Platform:
    app: FastAPI
    client: TestClient
    db: Db
    settings: Settings
    log: io.StringIO

    def client_from(self, peer: str, **kwargs: object) -> TestClient:
        """Another browser or script, connecting from `peer` (the socket address the app sees)."""
        return TestClient(self.app, client=(peer, 40000), **kwargs)  # type: ignore[arg-type]

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]

    def audit(self) -> list[AuditEntry]:
        with transaction(self.db.factory) as session:
            return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())

    def token_for(self, name: str, *, admin: bool = False, password: str | None = None) -> dict[str, str]:
        """Bearer headers for a user made directly in the database (test setup, not under test)."""
        with transaction(self.db.factory) as session:
            user = accounts.find_user(session, name) or accounts.create_user(
                session, name=name, password=password, is_admin=admin
            )
            _, plaintext = accounts.create_token(session, user, "tests")
        return {"Authorization": f"Bearer {plaintext}"}

    def database_text(self) -> str:
        """Every row of every table as text, to search for secrets that must not be stored."""
        metadata = MetaData()
        metadata.reflect(self.db.engine)
        rows = []
        with self.db.engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows += [f"{table.name}: {tuple(row)}" for row in conn.execute(table.select())]
        text = "\n".join(rows)
        if self.db.url.startswith("sqlite:///"):  # and the raw file, free pages and WAL included
            path = Path(self.db.url.removeprefix("sqlite:///"))
            for part in (path, Path(f"{path}-wal")):
                if part.exists():
                    text += "\n" + part.read_bytes().decode("latin-1")
        return text


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login(client: TestClient, username: str, password: str, next_path: str = "/"):
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": next_path,
        },
        follow_redirects=False,
    )


def settings_for(db: Db, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db.url,
        "data_dir": data_dir,
        "metrics_port": 0,
        "admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def _cluster_is_up() -> None:
    return None


@contextmanager
def running_platform(db: Db, data_dir: Path, **overrides: object) -> Iterator[Platform]:
    log = io.StringIO()
    handler = configure_logging("INFO", log)
    settings = settings_for(db, data_dir, **overrides)
    app = create_app(settings, run_workers=False, cluster_ping=_cluster_is_up)
    try:
        with TestClient(app, client=(PEER, 40000)) as client:
            yield Platform(app, client, db, settings, log)
    finally:
        logging.getLogger().removeHandler(handler)
