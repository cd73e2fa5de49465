"""The engine registry and what reads it: the API's choices and URLs, the refusal (422) of an engine
the deployed chart does not build, the chart reader for a directory, a packaged chart and a missing
one, and the engine labels of the metrics."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import metrics
from app.db.engine import transaction
from app.db.models import Store
from app.db.users import get_or_create_user, issue_token
from app.engines import ENGINES, EngineNotAvailable, buildable, require_buildable
from app.helm.chart import built_engines
from app.main import create_app
from app.reconcile.target import StoreTarget
from app.reconcile.values import chart_values
from app.settings import REPO_ROOT, Settings
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings

CHART = REPO_ROOT / "store-chart"


async def _cluster_is_up() -> None:
    return None


def chart_building(tmp_path: Path, engines: str | None) -> Path:
    """A copy of the store chart whose Chart.yaml declares `engines` (None: no annotation at all)."""
    chart = tmp_path / "store-chart"
    shutil.copytree(CHART, chart)
    meta = (chart / "Chart.yaml").read_text()
    line = "  storeplane.io/engines: woocommerce,medusa\n"
    assert line in meta
    if engines is None:
        meta = meta.replace("annotations:\n", "").replace(line, "")
        meta = "\n".join(ln for ln in meta.splitlines() if not ln.startswith("  # ")) + "\n"
    else:
        meta = meta.replace(line, f"  storeplane.io/engines: {engines}\n")
    (chart / "Chart.yaml").write_text(meta)
    return chart


@pytest.fixture
def alice(db: Db) -> dict[str, str]:
    with transaction(db.factory) as session:
        token = issue_token(session, get_or_create_user(session, "alice"))
    return {"Authorization": f"Bearer {token}"}


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, run_workers=False, cluster_ping=_cluster_is_up))


def test_both_engines_are_registered_with_their_paths_and_what_verify_proves():
    assert list(ENGINES) == ["woocommerce", "medusa"]
    medusa = ENGINES["medusa"]
    assert (medusa.title, medusa.storefront_path, medusa.admin_path) == ("MedusaJS", "/", "/app/")
    assert "admin API" in medusa.verify_proves
    assert ENGINES["woocommerce"].admin_path == "/wp-admin/"


def test_the_deployed_chart_builds_both_engines():
    found = built_engines(Settings(store_chart=str(CHART)))
    assert found.engines == ("woocommerce", "medusa")
    assert found.chart.startswith("store 0.")


def test_a_packaged_chart_is_read_from_its_archive(tmp_path: Path):
    archive = tmp_path / "store-0.2.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart_building(tmp_path, "woocommerce"), arcname="store")
    assert built_engines(Settings(store_chart=str(archive))).engines == ("woocommerce",)


def test_a_chart_from_before_the_annotation_builds_woocommerce_only(tmp_path: Path):
    assert built_engines(Settings(store_chart=str(chart_building(tmp_path, None)))).engines == (
        "woocommerce",
    )


def test_require_buildable_names_what_the_chart_builds():
    assert require_buildable("medusa", chart="store 0.2.0", built=["woocommerce", "medusa"]).name == "medusa"
    with pytest.raises(EngineNotAvailable) as refused:
        require_buildable("medusa", chart="store 0.1.0", built=["woocommerce"])
    assert str(refused.value).startswith(
        "MedusaJS stores cannot be created here: the store chart this platform"
    )
    assert "(store 0.1.0) builds only woocommerce" in str(refused.value)
    assert [e.name for e in buildable(["medusa", "shopify"])] == ["medusa"]


def test_a_medusa_store_gets_medusa_urls(db: Db, alice: dict[str, str]):
    with client_for(fast_settings(db)) as client:
        r = client.post("/api/v1/stores", json={"name": "shop", "engine": "medusa"}, headers=alice)
    assert r.status_code == 202, r.text
    assert r.json()["urls"] == {"storefront": "http://shop.localhost/", "admin": "http://shop.localhost/app/"}


def test_an_engine_the_deployed_chart_does_not_build_is_refused_with_422_and_nothing_is_written(
    db: Db, alice: dict[str, str], tmp_path: Path
):
    settings = fast_settings(db, store_chart=str(chart_building(tmp_path, "woocommerce")))
    with client_for(settings) as client:
        r = client.post("/api/v1/stores", json={"name": "shop", "engine": "medusa"}, headers=alice)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"] == "urn:storeplane:problem:engine-not-available"
        assert body["detail"].startswith("MedusaJS stores cannot be created here")
        assert body["available"] == ["woocommerce"]
        assert (
            client.post(
                "/api/v1/stores", json={"name": "shop", "engine": "woocommerce"}, headers=alice
            ).status_code
            == 202
        )
    with transaction(db.factory) as session:
        assert list(session.execute(select(Store.engine)).scalars()) == ["woocommerce"]


def test_an_unknown_engine_is_refused_by_validation_naming_the_registered_ones(db: Db, alice: dict[str, str]):
    with client_for(fast_settings(db)) as client:
        r = client.post("/api/v1/stores", json={"name": "shop", "engine": "magento"}, headers=alice)
        schema = client.get("/openapi.json").json()["components"]["schemas"]["StoreCreate"]
    assert r.status_code == 422
    assert "unknown engine 'magento'; choose one of: woocommerce, medusa" in r.json()["detail"]
    assert schema["properties"]["engine"]["enum"] == ["woocommerce", "medusa"]


def test_an_unreadable_chart_is_a_503_not_a_store(db: Db, alice: dict[str, str], tmp_path: Path):
    with client_for(
        fast_settings(db, store_chart=str(tmp_path / "missing.tgz"), helm_binary="/bin/false")
    ) as client:
        r = client.post("/api/v1/stores", json={"name": "shop", "engine": "woocommerce"}, headers=alice)
    assert r.status_code == 503
    assert r.json()["type"] == "urn:storeplane:problem:store-chart-unavailable"


def test_chart_values_carry_the_engine_and_host():
    target = StoreTarget("s-1", "shop", "alice", "medusa", "store-s-1", "shop", "shop.localhost")
    values = chart_values(target, Settings())
    assert (values["engine"], values["host"]) == ("medusa", "shop.localhost")


def test_every_registered_engine_has_metric_series_from_the_start():
    exposed = metrics.REGISTRY.get_sample_value
    for engine in ENGINES:
        assert exposed("storeplane_stores_created_total", {"engine": engine}) is not None
        assert exposed("storeplane_provisioning_duration_seconds_count", {"engine": engine}) is not None
