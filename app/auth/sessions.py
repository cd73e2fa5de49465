"""The dashboard's signed session cookie (itsdangerous) and where its signing key comes from.

The cookie holds only the user id, the user's session generation at login, a CSRF token and the
issue time; it is signed, not encrypted, and nothing in it is secret from its owner. Every request
re-reads the user from the database, and the session is valid only while the user is enabled and
their generation is still the one in the cookie: logout, a password change and disabling the user
move the generation on, which ends every session issued before, on the server (a copied cookie
replayed later is refused).
"""

from __future__ import annotations

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
    # users.session_generation when the session began: valid while the user's is still the same.
    generation: int | None = None

    def logged_in_as(self, user_id: int, generation: int) -> SessionData:
        """A new session for this user, with a new CSRF token (no fixation across login)."""
        return SessionData(user_id=user_id, generation=generation)


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def encode(self, data: SessionData) -> str:
        return self._serializer.dumps({"u": data.user_id, "c": data.csrf, "g": data.generation})

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
        user_id, csrf, generation = raw.get("u"), raw.get("c"), raw.get("g")
        if not isinstance(csrf, str) or not (user_id is None or type(user_id) is int):
            return None
        if not (generation is None or type(generation) is int):
            return None
        return SessionData(csrf=csrf, user_id=user_id, generation=generation)


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
