"""Dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from app.auth.csrf import SAFE_METHODS
from app.auth.deps import get_current_user  # bearer token or session cookie, rate limits, CSRF
from app.db.engine import read_transaction, transaction
from app.db.models import User
from app.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_session(
    request: Request, factory: Annotated[sessionmaker[Session], Depends(get_factory)]
) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises.
    GET/HEAD get a read transaction: on SQLite it never takes (or waits for) the write lock."""
    begin = read_transaction if request.method in SAFE_METHODS else transaction
    with begin(factory) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


CurrentUser = Annotated[User, Depends(get_current_user)]

# Row ids are 32-bit integers in PostgreSQL: a larger number cannot name a row, so it is refused as
# bad input (422) instead of failing in the database (500).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id from a list response.")]
