"""Users and bearer API tokens (minimal: an owner identity and hashed tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.engine import utcnow
from app.db.models import ApiToken, User

TOKEN_PREFIX = "sp_"  # noqa: S105 - a marker, not a secret
# last_used_at is a hint for people, not an audit trail: write it at most once a minute per token.
_TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    assert user.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).scalar_one_or_none()
    # The lookup is by hash; comparing again in constant time costs nothing and removes any doubt.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        row.last_used_at = now
    return session.get(User, row.user_id)
