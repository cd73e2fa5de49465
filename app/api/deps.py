"""Dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.api.problems import Problem
from app.db.engine import transaction
from app.db.models import User
from app.db.users import user_for_token
from app.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token from `python -m app tokens create`.")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_session(factory: Annotated[sessionmaker[Session], Depends(get_factory)]) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    with factory() as session, session.begin():
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_current_user(
    factory: FactoryDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """The token's user, looked up in a transaction of its own.

    Its own, and short: on SQLite every transaction holds the single write lock, so a lookup kept
    open for the whole request would block the route's own transaction.
    """
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Problem(
            401,
            "unauthenticated",
            "Send an API token as 'Authorization: Bearer <token>' "
            "(an operator creates one with `python -m app tokens create --user NAME`).",
            headers=challenge,
        )
    with transaction(factory) as session:
        user = user_for_token(session, credentials.credentials)
    if user is None:
        raise Problem(401, "unauthenticated", "This API token is unknown or revoked.", headers=challenge)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
