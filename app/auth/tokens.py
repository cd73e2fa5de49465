"""API tokens: generated once, shown once, stored only as a SHA-256 digest.

A token is 32 random bytes, so a fast digest is enough (nothing to brute-force, unlike passwords)
and lookup by digest is one indexed query. The `sp_` prefix lets secret scanners recognise leaks.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "sp_"  # noqa: S105 - a public marker, not a secret
_TOKEN_SHAPE = re.compile(r"^sp_[A-Za-z0-9_-]{43}$")
# Characters of the token kept for display ("sp_Ab3xY9…") so a user can tell tokens apart.
DISPLAY_CHARS = 7


@dataclass(frozen=True)
class IssuedToken:
    plaintext: str  # shown to the user once, never stored or logged
    digest: str
    display_prefix: str

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug logs
        return f"IssuedToken(display_prefix={self.display_prefix!r})"


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_token() -> IssuedToken:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return IssuedToken(plaintext, hash_token(plaintext), plaintext[:DISPLAY_CHARS])


def looks_like_token(value: str) -> bool:
    return bool(_TOKEN_SHAPE.fullmatch(value))


_TOKEN_ANYWHERE = re.compile(r"sp_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def redact_tokens(text: str) -> str:
    """`text` with every token-shaped string replaced, keeping the display prefix to tell them apart."""
    return _TOKEN_ANYWHERE.sub(lambda m: m.group(0)[:DISPLAY_CHARS] + "…[redacted]", text)
