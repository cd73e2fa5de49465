"""The dashboard's signed session cookie (itsdangerous) and where its signing key comes from.

The cookie holds only the user id, a CSRF token and the issue time; it is signed, not encrypted, and
nothing in it is secret from its owner. Every request re-reads the user from the database, so a
disabled user's session stops working at once, whatever the cookie says.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.auth.settings import UsersSettings
from app.ratelimit import IPNetwork, is_trusted, parse_ip

SESSION_COOKIE = "storeplane_session"
_SALT = "storeplane.session.v1"


@dataclass(frozen=True)
class SessionData:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user_id: int | None = None
    # Fingerprint of the user's password hash at login: a password change ends every older session.
    password_fp: str | None = None

    def logged_in_as(self, user_id: int, password_fp: str) -> SessionData:
        """A new session for this user, with a new CSRF token (no fixation across login)."""
        return SessionData(user_id=user_id, password_fp=password_fp)


def password_fingerprint(password_hash: str | None) -> str:
    """Changes whenever the password does (the Argon2 hash has a fresh salt each time)."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def encode(self, data: SessionData) -> str:
        return self._serializer.dumps({"u": data.user_id, "c": data.csrf, "p": data.password_fp})

    def decode(self, cookie: str | None) -> SessionData | None:
        """The session in a cookie, or None if absent, tampered with, expired or malformed."""
        if not cookie:
            return None
        try:
            raw = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(raw, dict):
            return None
        user_id, csrf, password_fp = raw.get("u"), raw.get("c"), raw.get("p")
        if not isinstance(csrf, str) or not (user_id is None or isinstance(user_id, int)):
            return None
        if not (password_fp is None or isinstance(password_fp, str)):
            return None
        return SessionData(csrf=csrf, user_id=user_id, password_fp=password_fp)


def is_https(conn: HTTPConnection, trusted: tuple[IPNetwork, ...]) -> bool:
    """HTTPS directly, or via a trusted proxy that says so in X-Forwarded-Proto."""
    if conn.url.scheme == "https":
        return True
    peer = parse_ip(conn.client.host) if conn.client else None
    if peer is None or not is_trusted(peer, trusted):
        return False
    return conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"


def set_session_cookie(response: Response, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def cookie_secure(conn: HTTPConnection, settings: UsersSettings, trusted: tuple[IPNetwork, ...]) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return is_https(conn, trusted)


def load_session_secret(settings: UsersSettings, data_dir: Path) -> str:
    """STOREPLANE_SESSION_SECRET, else the file it names, else a key generated once into data_dir.

    The generated key survives restarts (sessions stay valid) but is per machine: several replicas
    must be given one shared secret.
    """
    if settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value()
    if settings.session_secret_file:
        path = Path(settings.session_secret_file)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"STOREPLANE_SESSION_SECRET_FILE {path} cannot be read: {exc.strerror}") from exc
    path = data_dir / "session.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not each write (and use) a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
