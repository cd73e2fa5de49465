"""Odd input is a 4xx with a sentence, never a 500: names that only look valid (a trailing newline),
dates at the edge of the calendar, digits that are not ASCII, and JSON values of the wrong type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.schemas import StoreCreate
from app.settings import Settings
from tests.fixtures_db import Db
from tests.unit.users.platform import Platform, running_platform


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only: what is tested here is decided before any database is asked."""
    return f"sqlite:///{tmp_path / 'storeplane.db'}"


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path) as running:
        running.client = TestClient(running.app, raise_server_exceptions=False, client=("203.0.113.10", 1))
        yield running


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize("name", ["nl\n", "shop\n", "\nshop", "sh\nop", "shop\r", "www\n"])
def test_a_store_name_with_a_line_break_is_refused(platform: Platform, name: str) -> None:
    alice = platform.token_for("alice")
    body = _problem(
        platform.client.post("/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=alice),
        422,
    )
    assert body["errors"][0]["field"] == "name"
    assert "may contain only lowercase letters, digits and '-'" in body["detail"]
    assert platform.client.get("/api/v1/stores", headers=alice).json()["items"] == []


def test_the_dashboard_refuses_a_newline_name_with_the_same_sentence() -> None:
    with pytest.raises(ValueError, match="may contain only lowercase letters"):
        StoreCreate(name="nl\n", engine="woocommerce")


@pytest.mark.parametrize("name", ["bob\n", "bob\r\n", "\nbob"])
def test_a_user_name_with_a_line_break_is_refused(platform: Platform, name: str) -> None:
    admin = platform.token_for("root", admin=True)
    response = platform.client.post("/api/v1/users", json={"name": name}, headers=admin)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "domain", ["localhost\n", "stores.example.com\n", "-bad.example.com", "a..b", "UPPER.example"]
)
def test_a_base_domain_that_is_not_a_dns_name_is_refused_at_start_up(domain: str) -> None:
    with pytest.raises(ValueError, match="STOREPLANE_BASE_DOMAIN"):
        Settings(base_domain=domain)


def test_a_valid_base_domain_is_accepted() -> None:
    assert Settings(base_domain="stores.example.com").base_domain == "stores.example.com"


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B14:00",
        "until=0001-01-01T00:00:00%2B14:00",
        "since=9999-12-31T23:59:59-14:00",
    ],
)
def test_audit_dates_outside_the_calendar_in_utc_are_422(platform: Platform, query: str) -> None:
    admin = platform.token_for("root", admin=True)
    body = _problem(platform.client.get(f"/api/v1/audit?{query}", headers=admin), 422)
    assert "outside the dates" in body["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users/{uid}", {"disabled": "yes"}),
        ("/api/v1/users/{uid}", {"disabled": 1}),
        ("/api/v1/users/{uid}", {"max_stores": "3"}),
        ("/api/v1/users/{uid}", {"max_stores": 3.5}),
        ("/api/v1/users/{uid}", {"max_stores": True}),
        ("/api/v1/users/{uid}", {"reset_max_stores": "true"}),
    ],
)
def test_json_values_of_the_wrong_type_are_refused_not_coerced(
    platform: Platform, path: str, body: dict
) -> None:
    admin = platform.token_for("root", admin=True)
    bob = platform.token_for("bob")
    uid = platform.client.get("/api/v1/users/me", headers=bob).json()["id"]
    _problem(platform.client.patch(path.format(uid=uid), json=body, headers=admin), 422)
    assert platform.client.get("/api/v1/users/me", headers=bob).json()["disabled"] is False


def test_a_rollback_revision_must_be_a_json_integer(platform: Platform) -> None:
    alice = platform.token_for("alice")
    sid = platform.client.post(
        "/api/v1/stores", json={"name": "shop", "engine": "woocommerce"}, headers=alice
    ).json()["id"]

    def rollback(revision: str):
        return platform.client.post(
            f"/api/v1/stores/{sid}/rollback",
            content=f'{{"revision": {revision}}}',
            headers=alice | {"Content-Type": "application/json"},
        )

    for revision in ('"2"', "2.5", "true", "2147483648"):
        _problem(rollback(revision), 422)
    # Python refuses to read a number of more than 4300 digits: the body cannot be parsed at all.
    assert _problem(rollback("1" * 4301), 400)["detail"] == (
        "The request body could not be parsed: send UTF-8 JSON whose numbers have at most 4300 digits."
    )


def test_the_dashboard_rollback_refuses_a_revision_that_is_not_a_plain_number(platform: Platform) -> None:
    from tests.unit.users.platform import ADMIN_PASSWORD, csrf_of, login

    browser = platform.client_from("203.0.113.40", raise_server_exceptions=False)
    assert login(browser, "admin", ADMIN_PASSWORD).status_code == 303
    csrf = csrf_of(browser.get("/").text)
    created = browser.post("/stores", data={"name": "shop", "engine": "woocommerce", "csrf_token": csrf})
    assert created.status_code == 200
    sid = browser.get("/api/v1/stores").json()["items"][0]["id"]
    for revision in ("²", "٣", "1" * 4301, "-1", "0", " ", "1e3", "99999999999"):
        plain = browser.post(f"/stores/{sid}/rollback", data={"revision": revision, "csrf_token": csrf})
        assert plain.status_code == 422, revision
        assert "Choose a revision number" in plain.text
        htmx = browser.post(
            f"/stores/{sid}/rollback",
            data={"revision": revision},
            headers={"HX-Request": "true", "HX-Target": "store-detail", "X-CSRF-Token": csrf},
        )
        assert htmx.status_code == 200 and "Choose a revision number" in htmx.text
