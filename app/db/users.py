"""Users and bearer API tokens (minimal: an owner identity and hashed tokens)."""

from __future__ import annotations

import hmac
from datetime import timedelta

from sqlalchemy import select
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
    assert user.id is not None
    issued = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=issued.digest, prefix=issued.display_prefix))
    session.flush()
    return issued.plaintext


def user_for_token(session: Session, token: str) -> User | None:
    if not looks_like_token(token):
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
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else user
