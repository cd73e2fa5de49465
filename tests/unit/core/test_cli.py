"""The entry points as an operator runs them: `python -m app migrate` and `tokens create`."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import inspect, select

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import ApiToken, User
from app.db.users import user_for_token
from app.settings import REPO_ROOT


def run_app(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STOREPLANE_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_migrate_creates_every_table(database_url: str) -> None:
    done = run_app(database_url, "migrate")
    assert done.returncode == 0, done.stderr
    engine = make_engine(database_url)
    try:
        assert {"users", "api_tokens", "stores", "jobs", "store_events"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_tokens_create_prints_a_working_token_once_and_stores_only_its_hash(database_url: str) -> None:
    assert run_app(database_url, "migrate").returncode == 0
    done = run_app(database_url, "tokens", "create", "--user", "ops", "--admin")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("sp_")
    engine = make_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            user = user_for_token(session, token)
            assert user is not None and (user.name, user.is_admin) == ("ops", True)
            hashes = session.execute(select(ApiToken.token_hash)).scalars().all()
            assert token not in hashes and len(hashes) == 1
            assert session.execute(select(User.name)).scalars().all() == ["ops"]
    finally:
        engine.dispose()


def test_tokens_create_refuses_a_user_name_that_cannot_be_a_label(database_url: str) -> None:
    done = run_app(database_url, "tokens", "create", "--user", "bad name!")
    assert done.returncode == 2
    assert "'bad name!' is not a valid user name" in done.stderr
    assert done.stdout == ""
