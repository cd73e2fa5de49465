"""Account data functions shared by the JSON API and the dashboard: users, passwords, API tokens.

Each runs inside the caller's transaction. Password hashing is slow on purpose (Argon2id): callers on
the event loop run `authenticate` and `set_password` in a thread.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.passwords import WeakPasswordError, check_policy, hash_password, verify_password
from app.db.engine import utcnow
from app.db.models import ApiToken, User
from app.db.users import add_token

# The name becomes a Kubernetes label value on the user's store namespaces: it must end alphanumeric.
USERNAME = re.compile(r"[a-z][a-z0-9_.-]{0,61}[a-z0-9]")  # always fullmatch: "$" passes "bob\n"
MAX_TOKENS_PER_USER = 50


class AccountError(ValueError):
    """A request about an account that cannot be done; the message says why and what to do."""


class UserExists(AccountError):
    """The user name is taken."""


def check_username(name: str) -> None:
    if not USERNAME.fullmatch(name):
        raise AccountError(
            "a user name is 2-63 characters: a lower-case letter, then lower-case letters, "
            "digits, '_', '.' or '-', ending with a letter or digit"
        )


def find_user(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


def admin_exists(session: Session) -> bool:
    return session.execute(select(User.id).where(User.is_admin.is_(True)).limit(1)).first() is not None  # type: ignore[attr-defined]


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.name)).scalars())


def create_user(session: Session, *, name: str, password: str | None, is_admin: bool = False) -> User:
    """A new account; password None makes a token-only account (an admin issues its tokens)."""
    check_username(name)
    if find_user(session, name) is not None:
        raise UserExists(f"a user named {name!r} already exists; choose another name")
    user = User(name=name, is_admin=is_admin)
    if password is not None:
        user.password_hash = _policy_hash(password, name)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every dashboard session of the user (they log in again)."""
    user.password_hash = _policy_hash(password, user.name)
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> None:
    """End every dashboard session of `user`, on every device: each cookie carries the generation
    it was issued under, and this moves the user's on (one UPDATE, so concurrent calls add up)."""
    session.execute(
        update(User)
        .where(User.id == user.id)  # type: ignore[arg-type]
        .values(session_generation=User.session_generation + 1)
    )
    session.flush()
    session.refresh(user)


def _policy_hash(password: str, name: str) -> str:
    try:
        check_policy(password, username=name)
    except WeakPasswordError as exc:
        raise AccountError(str(exc)) from exc
    return hash_password(password)


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if the name and password match and the account is enabled; None otherwise.

    Unknown names cost one Argon2 verification too, so timing does not reveal which names exist.
    """
    user = find_user(session, name) if USERNAME.fullmatch(name) else None
    ok, new_hash = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        return None
    if new_hash is not None:  # hashed with older parameters: upgrade while we have the password
        user.password_hash = new_hash
    return user


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """(row, plaintext): the plaintext exists only in this return value, to be shown once."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise AccountError("a token name is 1-64 characters, e.g. 'CI' or 'laptop'")
    # Count and insert as one turn per user: PostgreSQL locks the user's row until commit (two
    # concurrent creates would otherwise both count 49 and both insert); SQLite's write lock
    # already serialises them (FOR UPDATE is not rendered there).
    session.execute(select(User.id).where(User.id == user.id).with_for_update())  # type: ignore[arg-type]
    live = session.execute(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).scalar_one()
    if live >= MAX_TOKENS_PER_USER:
        raise AccountError(f"you have {live} live tokens, the most allowed; revoke one first")
    # The row just inserted, not "the user's newest token", which a concurrent create may be.
    return add_token(session, user, name)


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, live first, newest first within each group."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())  # type: ignore[union-attr]
    )
    return list(session.execute(query).scalars())


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the user's tokens (admins: anyone's). None if there is no such token for them."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.is_admin):
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def set_disabled(session: Session, user: User, disabled: bool) -> int:
    """Disable or enable `user`. Disabling also ends their sessions and revokes their live tokens,
    so enabling them again revives nothing: they log in afresh and make new tokens. Returns how
    many tokens were revoked."""
    user.disabled = disabled
    revoked = 0
    if disabled:
        revoked = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
            .values(revoked_at=utcnow())
        ).rowcount
        end_sessions(session, user)
    session.flush()
    return int(revoked or 0)


def set_max_stores(session: Session, user: User, max_stores: int | None) -> None:
    if max_stores is not None and not 0 <= max_stores <= 10_000:
        raise AccountError("max_stores is a whole number from 0 to 10000, or null for the default")
    user.max_stores = max_stores
    session.flush()
