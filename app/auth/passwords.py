"""Argon2id password hashing (pwdlib), the password policy, and generated passwords."""

from __future__ import annotations

import secrets
import threading

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 12
# Argon2 happily hashes megabytes; a cap keeps one login request from costing seconds of CPU.
MAX_LENGTH = 256

# OWASP's Argon2id floor (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's 64 MiB default: the API
# process has a 150 MB memory budget and every verification holds its memory while it runs. Hashes made
# with other parameters verify and are re-hashed with these at the next login.
_HASHER = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),))
# At most this many hashes at once per process: bounds memory and CPU under a login flood (the rate
# limits bound it per address and per user name, not across many addresses).
_SLOTS = threading.BoundedSemaphore(2)
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
    with _SLOTS:
        return _HASHER.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters). None hash: unknown user."""
    if len(password) > MAX_LENGTH:
        return False, None
    with _SLOTS:
        if password_hash is None:
            _HASHER.verify(password, _DUMMY_HASH)
            return False, None
        return _HASHER.verify_and_update(password, password_hash)


def generate_password() -> str:
    """A random password for an account an admin creates; shown once, never stored in clear."""
    return secrets.token_urlsafe(18)
