"""The JSON API over a real database (SQLite and PostgreSQL), with workers off: requests only."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db.engine import transaction
from app.db.models import Job, Store
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings


@dataclass
class Api:
    client: TestClient
    alice: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]
    db: Db


async def _cluster_is_up() -> None:
    return None


def _token(db: Db, name: str, *, admin: bool = False) -> dict[str, str]:
    with transaction(db.factory) as session:
        token = issue_token(session, get_or_create_user(session, name, is_admin=admin))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(db: Db) -> Iterator[Api]:
    app = create_app(fast_settings(db), run_workers=False, cluster_ping=_cluster_is_up)
    with TestClient(app) as client:
        yield Api(client, _token(db, "alice"), _token(db, "bob"), _token(db, "root", admin=True), db)


def create(api: Api, name: str = "shop", engine: str = "woocommerce", **headers: str):
    return api.client.post(
        "/api/v1/stores", json={"name": name, "engine": engine}, headers=api.alice | headers
    )


def test_creating_a_store_answers_202_with_the_pending_store_and_its_location(api: Api) -> None:
    r = create(api)
    assert r.status_code == 202
    body = r.json()
    assert r.headers["location"] == f"/api/v1/stores/{body['id']}"
    assert body | {"id": "-", "created_at": "-"} == {
        "id": "-",
        "name": "shop",
        "engine": "woocommerce",
        "status": "pending",
        "status_reason": None,
        "namespace": f"store-{body['id']}",
        "urls": {"storefront": "http://shop.localhost/", "admin": "http://shop.localhost/wp-admin/"},
        "created_at": "-",
        "ready_at": None,
        "helm_revision": None,
        "chart_version": None,
        "app_version": None,
        "pinned": False,
        "drift": {
            "state": "unchecked",
            "revision": None,
            "differences": [],
            "extras": [],
            "checked_at": None,
        },
    }


def test_the_store_and_its_provision_job_are_written_together(api: Api) -> None:
    sid = create(api).json()["id"]
    with transaction(api.db.factory) as session:
        job = session.execute(select(Job).where(Job.store_id == sid)).scalar_one()
    assert (job.kind, job.status, job.deadline_at is not None) == ("provision", "queued", True)


def test_users_see_only_their_own_stores_and_admins_see_all(api: Api) -> None:
    sid = create(api).json()["id"]
    assert api.client.get(f"/api/v1/stores/{sid}", headers=api.bob).status_code == 404
    assert api.client.delete(f"/api/v1/stores/{sid}", headers=api.bob).status_code == 404
    assert api.client.get(f"/api/v1/stores/{sid}/events", headers=api.bob).status_code == 404
    assert api.client.get("/api/v1/stores", headers=api.bob).json()["items"] == []
    assert [s["id"] for s in api.client.get("/api/v1/stores", headers=api.admin).json()["items"]] == [sid]
    assert api.client.get(f"/api/v1/stores/{sid}", headers=api.alice).status_code == 200


def test_a_missing_or_unknown_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer sp_" + "x" * 43}, {"Authorization": "Basic YWxpY2U6eA=="}):
        r = api.client.get("/api/v1/stores", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"] == "application/problem+json"


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    from app.db.models import ApiToken

    secret = api.alice["Authorization"].removeprefix("Bearer ")
    with transaction(api.db.factory) as session:
        stored = [(t.token_hash, t.prefix) for t in session.execute(select(ApiToken)).scalars()]
    assert all(secret != h and secret not in h and len(p) < 12 for h, p in stored)


def test_the_same_idempotency_key_and_body_return_the_same_store(api: Api) -> None:
    first = create(api, **{"Idempotency-Key": "order-1"})
    again = create(api, **{"Idempotency-Key": "order-1"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()


def test_the_same_idempotency_key_with_another_body_is_422(api: Api) -> None:
    create(api, **{"Idempotency-Key": "order-1"})
    r = create(api, name="other", **{"Idempotency-Key": "order-1"})
    assert r.status_code == 422
    assert "already used with a different request body" in r.json()["detail"]


def test_twenty_parallel_posts_with_one_key_make_one_store_and_one_job(api: Api) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: create(api, **{"Idempotency-Key": "burst"}), range(20)))
    assert {r.status_code for r in answers} == {202}, [r.json() for r in answers if r.status_code != 202]
    assert len({r.json()["id"] for r in answers}) == 1
    with transaction(api.db.factory) as session:
        assert session.execute(select(func.count()).select_from(Store)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 1


def test_a_name_is_unique_on_the_platform_until_the_store_is_deleted(api: Api) -> None:
    sid = create(api).json()["id"]
    taken = create(api)
    assert taken.status_code == 409
    assert "already have a store named 'shop'" in taken.json()["detail"]
    bob = api.client.post("/api/v1/stores", json={"name": "shop", "engine": "medusa"}, headers=api.bob)
    assert bob.status_code == 409  # the name is the public host shop.localhost (test_public_names.py)
    with transaction(api.db.factory) as session:  # what the worker does at the end of a delete
        session.get_one(Store, sid).status = "deleted"
    assert create(api).status_code == 202


def test_an_illegal_action_is_409_with_a_message(api: Api) -> None:
    sid = create(api).json()["id"]
    r = api.client.post(f"/api/v1/stores/{sid}/upgrade", headers=api.alice)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "Cannot upgrade a store that is pending; upgrade is allowed when the store is failed, ready."
    )
    assert api.client.post(f"/api/v1/stores/{sid}/verify", headers=api.alice).status_code == 409


def test_delete_is_202_and_asking_again_changes_nothing(api: Api) -> None:
    sid = create(api).json()["id"]
    first = api.client.delete(f"/api/v1/stores/{sid}", headers=api.alice)
    again = api.client.delete(f"/api/v1/stores/{sid}", headers=api.alice)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["status"] == "deleting"
    with transaction(api.db.factory) as session:
        kinds = [(j.kind, j.status) for j in session.execute(select(Job).order_by(Job.id)).scalars()]
    assert kinds == [("provision", "cancelled"), ("delete", "queued")]


def test_events_list_what_happened_to_the_store(api: Api) -> None:
    sid = create(api).json()["id"]
    api.client.delete(f"/api/v1/stores/{sid}", headers=api.alice)
    events = api.client.get(f"/api/v1/stores/{sid}/events", headers=api.alice).json()
    assert [(e["step"], e["message"]) for e in events] == [
        ("create", "woocommerce store 'shop' requested"),
        ("provision", "cancelled by delete"),
        ("delete", "delete requested"),
    ]


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/api/v1/readyz").json()
    assert ready["status"] == "ok"
    assert ready["checks"] == {"database": "ok", "cluster": "ok"}
    # Readiness when the cluster is away, and when the database is: tests/unit/platform/test_readiness.py


def test_openapi_documents_every_route(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/stores",
        "/api/v1/stores/{store_id}",
        "/api/v1/stores/{store_id}/upgrade",
        "/api/v1/stores/{store_id}/rollback",
        "/api/v1/stores/{store_id}/verify",
        "/api/v1/stores/{store_id}/history",
        "/api/v1/stores/{store_id}/events",
        "/api/v1/healthz",
        "/api/v1/readyz",
    } <= set(paths)
    assert api.client.get("/docs").status_code == 200


# Each bad request, and the sentence that must be in its answer.
BAD_CREATES = [
    ({"name": "Shop", "engine": "woocommerce"}, 422, "only lowercase letters, digits and '-'"),
    ({"name": "-shop", "engine": "woocommerce"}, 422, "must start and end with a letter or digit"),
    ({"name": "shop-", "engine": "woocommerce"}, 422, "must start and end with a letter or digit"),
    ({"name": "my_shop", "engine": "woocommerce"}, 422, "only lowercase letters, digits and '-'"),
    ({"name": "shöp", "engine": "woocommerce"}, 422, "only lowercase letters, digits and '-'"),
    ({"name": "a" * 31, "engine": "woocommerce"}, 422, "at most 30 characters (it has 31)"),
    ({"name": "", "engine": "woocommerce"}, 422, "the store name cannot be empty"),
    ({"name": "admin", "engine": "woocommerce"}, 422, "the store name 'admin' is reserved"),
    ({"name": "www", "engine": "woocommerce"}, 422, "the store name 'www' is reserved"),
    ({"name": 42, "engine": "woocommerce"}, 422, "the store name must be a string"),
    (
        {"name": "shop", "engine": "magento"},
        422,
        "unknown engine 'magento'; choose one of: woocommerce, medusa",
    ),
    ({"name": "shop"}, 422, "'engine' is required"),
    ({"engine": "woocommerce"}, 422, "'name' is required"),
    (
        {"name": "shop", "engine": "medusa", "replicas": 3},
        422,
        "'replicas' is not a field this endpoint accepts",
    ),
    (["shop", "woocommerce"], 422, "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "status", "sentence"), BAD_CREATES)
def test_a_bad_create_request_is_refused_with_a_specific_sentence(api: Api, body, status, sentence) -> None:
    r = api.client.post("/api/v1/stores", json=body, headers=api.alice)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert sentence in r.json()["detail"]


def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    r = api.client.post(
        "/api/v1/stores", content=b"{name: shop", headers=api.alice | {"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]


def test_an_idempotency_key_with_spaces_or_too_long_is_refused(api: Api) -> None:
    for key in ("has space", "k" * 256, ""):
        r = create(api, **{"Idempotency-Key": key})
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "'Idempotency-Key' must be 1 to 255 printable ASCII characters without spaces "
            "(a UUID is a good key)."
        )


def test_rollback_needs_a_positive_revision_and_nothing_else(api: Api) -> None:
    sid = create(api).json()["id"]
    for body, sentence in (
        ({"revision": 0}, "'revision': input should be greater than or equal to 1"),
        ({}, "'revision' is required"),
        ({"revision": 1, "force": True}, "'force' is not a field this endpoint accepts"),
        (
            {"revision": "two"},
            "'revision': must be a whole number (a JSON number, not a string or a boolean)",
        ),
    ):
        r = api.client.post(f"/api/v1/stores/{sid}/rollback", json=body, headers=api.alice)
        assert r.status_code == 422, body
        assert sentence in r.json()["detail"]


def test_upgrade_refuses_chart_values(api: Api) -> None:
    sid = create(api).json()["id"]
    r = api.client.post(
        f"/api/v1/stores/{sid}/upgrade", json={"values": {"quota": {"cpu": "64"}}}, headers=api.alice
    )
    assert r.status_code == 422
    assert "'values' is not a field this endpoint accepts" in r.json()["detail"]


def test_unknown_store_and_unknown_route_are_404_problems(api: Api) -> None:
    r = api.client.get("/api/v1/stores/s-000000000000", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (404, "You have no store with id 's-000000000000'.")
    assert (
        api.client.get("/api/v1/nope", headers=api.alice).json()["detail"]
        == "There is nothing at this address."
    )
    assert api.client.put("/api/v1/stores", headers=api.alice).status_code == 405


def test_events_limit_must_be_reasonable(api: Api) -> None:
    sid = create(api).json()["id"]
    r = api.client.get(f"/api/v1/stores/{sid}/events?limit=0", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "'limit': input should be greater than or equal to 1.",
    )
