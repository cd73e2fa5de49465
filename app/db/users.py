"""Users and bearer API tokens (minimal: an owner identity and hashed tokens)."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.auth.tokens import hash_token, looks_like_token
from app.auth.tokens import issue_token as new_token
from app.db.engine import utcnow
from app.db.models import ApiToken, User

# last_used_at is a hint for people, not an audit trail: write it at most once a minute per token.
_TOUCH_EVERY = timedelta(minutes=1)


def get_or_create_user(session: Session, name: str, *, is_admin: bool = False) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        user = User(name=name, is_admin=is_admin)
        session.add(user)
        session.flush()
    elif is_admin and not user.is_admin:
        user.is_admin = True
    return user


def issue_token(session: Session, user: User) -> str:
    """Create a token for `user` and return it: only its hash is stored, so it is shown this once."""
    return add_token(session, user)[1]


def add_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """(row, plaintext) of a new token for `user`; the plaintext exists only in this return value."""
    assert user.id is not None
    issued = new_token()
    row = ApiToken(user_id=user.id, token_hash=issued.digest, prefix=issued.display_prefix, name=name)
    session.add(row)
    session.flush()
    return row, issued.plaintext


def token_owner(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The enabled user behind a live token, and the token's row; reads only."""
    if not looks_like_token(token):
        return None
    digest = hash_token(token)
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).scalar_one_or_none()
    # The lookup is by hash; comparing again in constant time costs nothing and removes any doubt.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else (user, row)


def needs_touch(row: ApiToken, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    """Record that the token was used; at most once a minute, whoever else raced to do it."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,  # type: ignore[arg-type]
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - _TOUCH_EVERY),  # type: ignore[union-attr,operator]
        )
        .values(last_used_at=now)
    )


def user_for_token(session: Session, token: str) -> User | None:
    """token_owner plus the last-used hint, in one (write) transaction: for tools and the CLI."""
    found = token_owner(session, token)
    if found is None:
        return None
    user, row = found
    now = utcnow()
    if needs_touch(row, now):
        assert row.id is not None
        touch_token(session, row.id, now)
    return user
