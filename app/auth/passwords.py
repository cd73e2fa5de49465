"""Argon2id password hashing (pwdlib), the password policy, and generated passwords."""

from __future__ import annotations

import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 12
# Argon2 happily hashes megabytes; a cap keeps one login request from costing seconds of CPU.
MAX_LENGTH = 256

_HASHER = PasswordHash((Argon2Hasher(),))
# Verified against when the user name is unknown, so "no such user" takes as long as "wrong password".
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class WeakPasswordError(ValueError):
    """The password does not meet the policy."""


def check_policy(password: str, *, username: str) -> None:
    """Raise WeakPasswordError saying which rule a new password breaks (never echoing it)."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"password too short: at least {MIN_LENGTH} characters are required")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"password too long: at most {MAX_LENGTH} characters are allowed")
    if password.strip() == "" or len(set(password)) < 4:
        raise WeakPasswordError("password too simple: use at least 4 different characters")
    if username and username.lower() in password.lower():
        raise WeakPasswordError("password must not contain the user name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters). None hash: unknown user."""
    if len(password) > MAX_LENGTH:
        return False, None
    if password_hash is None:
        _HASHER.verify(password, _DUMMY_HASH)
        return False, None
    return _HASHER.verify_and_update(password, password_hash)


def generate_password() -> str:
    """A random password for an account an admin creates; shown once, never stored in clear."""
    return secrets.token_urlsafe(18)
