"""The first admin: created at start-up from STOREPLANE_ADMIN_PASSWORD or a mounted Secret file.

There is no default password. With no admin and no password configured, start-up carries on (the
API then refuses everyone) and says, once, how to create one.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from pathlib import Path

from app.auth.passwords import WeakPasswordError, check_policy
from app.auth.settings import UsersSettings

log = logging.getLogger(__name__)


class BootstrapError(Exception):
    """The first-admin configuration is unusable."""


class Bootstrap(enum.StrEnum):
    CREATED = "created"
    ADMIN_EXISTS = "admin_exists"
    NOT_CONFIGURED = "not_configured"


def configured_admin_password(settings: UsersSettings) -> str | None:
    """The password from the environment or the file, None if neither is set; never both."""
    from_env = settings.admin_password.get_secret_value()
    if from_env and settings.admin_password_file:
        raise BootstrapError(
            "set either STOREPLANE_ADMIN_PASSWORD or STOREPLANE_ADMIN_PASSWORD_FILE, not both"
        )
    if settings.admin_password_file:
        path = Path(settings.admin_password_file)
        try:
            password = path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise BootstrapError(
                f"STOREPLANE_ADMIN_PASSWORD_FILE {path} cannot be read: {exc.strerror}"
            ) from exc
    else:
        password = from_env
    if not password:
        return None
    try:
        check_policy(password, username=settings.admin_username)
    except WeakPasswordError as exc:
        raise BootstrapError(f"the configured first-admin password is refused: {exc}") from exc
    return password


def ensure_first_admin(
    settings: UsersSettings,
    *,
    admin_exists: Callable[[], bool],
    create_admin: Callable[[str, str], None],
) -> Bootstrap:
    """Create the first admin (username, password) unless an admin already exists."""
    if admin_exists():
        return Bootstrap.ADMIN_EXISTS
    password = configured_admin_password(settings)
    if password is None:
        log.warning(
            "no admin account exists and none is configured: set STOREPLANE_ADMIN_PASSWORD "
            "(or STOREPLANE_ADMIN_PASSWORD_FILE pointing at a mounted Secret) and restart"
        )
        return Bootstrap.NOT_CONFIGURED
    create_admin(settings.admin_username, password)
    log.info("created the first admin account", extra={"username": settings.admin_username})
    return Bootstrap.CREATED
