"""The stores and jobs gauges come from the database at scrape time, every status present."""

from __future__ import annotations

from app import metrics
from app.lifecycle import StoreStatus
from tests.fixtures_db import Db
from tests.unit.users.platform import running_platform


def test_the_gauges_count_stores_by_status_and_queued_jobs(db: Db, tmp_path):
    with running_platform(db, tmp_path) as platform:
        for status in StoreStatus:
            assert metrics.REGISTRY.get_sample_value("storeplane_stores", {"status": str(status)}) == 0
        alice = platform.token_for("alice")
        for name in ("one", "two"):
            platform.client.post(
                "/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=alice
            )
        assert metrics.REGISTRY.get_sample_value("storeplane_stores", {"status": "pending"}) == 2
        assert metrics.REGISTRY.get_sample_value("storeplane_jobs", {"state": "queued"}) == 2
        assert metrics.REGISTRY.get_sample_value("storeplane_jobs", {"state": "running"}) == 0
    # Once the app has stopped, its database is no longer a source.
    assert metrics.REGISTRY.get_sample_value("storeplane_stores", {"status": "pending"}) is None
