"""The first admin comes from the environment or a mounted Secret file; never a default password."""

import logging

import pytest

from app.auth.bootstrap import Bootstrap, BootstrapError, configured_admin_password, ensure_first_admin
from app.auth.settings import UsersSettings

GOOD = "a-Long-enough-secret-9"


class Accounts:
    def __init__(self, has_admin: bool = False) -> None:
        self.has_admin = has_admin
        self.created: list[tuple[str, str]] = []

    def admin_exists(self) -> bool:
        return self.has_admin

    def create_admin(self, username: str, password: str) -> None:
        self.created.append((username, password))


def _run(settings: UsersSettings, accounts: Accounts) -> Bootstrap:
    return ensure_first_admin(
        settings, admin_exists=accounts.admin_exists, create_admin=accounts.create_admin
    )


def test_the_admin_is_created_from_the_environment_password():
    accounts = Accounts()
    assert _run(UsersSettings(admin_password=GOOD, admin_username="root"), accounts) is Bootstrap.CREATED
    assert accounts.created == [("root", GOOD)]


def test_the_admin_is_created_from_a_mounted_secret_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(GOOD + "\n")
    accounts = Accounts()
    assert _run(UsersSettings(admin_password_file=str(secret)), accounts) is Bootstrap.CREATED
    assert accounts.created == [("admin", GOOD)]


def test_nothing_is_created_when_an_admin_exists():
    accounts = Accounts(has_admin=True)
    assert _run(UsersSettings(admin_password=GOOD), accounts) is Bootstrap.ADMIN_EXISTS
    assert accounts.created == []


def test_without_a_configured_password_no_admin_is_created_and_the_log_says_how(caplog):
    accounts = Accounts()
    with caplog.at_level(logging.WARNING):
        assert _run(UsersSettings(), accounts) is Bootstrap.NOT_CONFIGURED
    assert accounts.created == []
    assert "set STOREPLANE_ADMIN_PASSWORD" in caplog.text


def test_both_sources_at_once_are_refused(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(GOOD)
    with pytest.raises(BootstrapError, match="not both"):
        configured_admin_password(UsersSettings(admin_password=GOOD, admin_password_file=str(secret)))


def test_an_unreadable_secret_file_is_named(tmp_path):
    with pytest.raises(BootstrapError, match=r"ADMIN_PASSWORD_FILE .*missing cannot be read"):
        configured_admin_password(UsersSettings(admin_password_file=str(tmp_path / "missing")))


def test_a_weak_configured_password_is_refused_without_echoing_it():
    with pytest.raises(BootstrapError, match="too short") as caught:
        configured_admin_password(UsersSettings(admin_password="hunter2"))
    assert "hunter2" not in str(caught.value)
