"""One real store life (API + embedded worker + helm v4 + the store chart on the simulated cluster):
provisioning moves the metrics; the admin-password reveal returns the Secret's value without that
value reaching the audit log, the log output or the database; verify, upgrade, rollback and delete
each leave their audit entry.

The simulated cluster runs no containers: the password is the one the chart generated into the
Secret, which is all this route reads, so the test proves the route and its audit, not WordPress.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import httpx
from sqlalchemy import MetaData, create_engine

from app import metrics
from app.logging import configure_logging
from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import platform_settings, running_platform, until


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _database_text(url: str) -> str:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            rows = [
                str(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(table.select())
            ]
    finally:
        engine.dispose()
    path = Path(url.removeprefix("sqlite:///"))
    raw = "".join(p.read_bytes().decode("latin-1") for p in (path, Path(f"{path}-wal")) if p.exists())
    return "\n".join(rows) + raw


def test_a_store_life_moves_the_metrics_and_is_audited_without_the_secret(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    log = io.StringIO()
    handler = configure_logging("INFO", log)
    server, thread = metrics.serve("127.0.0.1", 0)
    settings = platform_settings(cluster, tmp_path)
    before = {
        "created": _value("storeplane_stores_created_total", engine="woocommerce"),
        "ready": _value("storeplane_provisioning_duration_seconds_count", engine="woocommerce"),
        "helm": _value("storeplane_helm_command_duration_seconds_count", action="upgrade", outcome="ok"),
        "steps": _value("storeplane_step_duration_seconds_count", action="provision", step="install"),
    }
    try:
        with running_platform(cluster, settings) as platform:
            created = platform.post("/stores", {"name": "metered", "engine": "woocommerce"})
            assert created.status_code == 202, created.text
            sid = created.json()["id"]
            assert _value("storeplane_stores_created_total", engine="woocommerce") == before["created"] + 1
            # The gauges are read from the database at scrape time, so they see the new store at once.
            waiting = _value("storeplane_stores", status="pending") + _value(
                "storeplane_stores", status="provisioning"
            )
            assert waiting >= 1

            ready = platform.wait_for(sid, "ready", "failed")
            assert ready["status"] == "ready", platform.events(sid)
            assert (
                _value("storeplane_provisioning_duration_seconds_count", engine="woocommerce")
                == before["ready"] + 1
            )
            assert _value("storeplane_provisioning_duration_seconds_sum", engine="woocommerce") > 0
            assert (
                _value("storeplane_helm_command_duration_seconds_count", action="upgrade", outcome="ok")
                >= before["helm"] + 1
            )
            assert (
                _value("storeplane_step_duration_seconds_count", action="provision", step="install")
                > before["steps"]
            )
            assert _value("storeplane_stores", status="ready") >= 1
            scraped = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
            assert 'storeplane_stores{status="ready"}' in scraped
            assert 'storeplane_jobs{state="running"}' in scraped

            revealed = platform.get(f"/stores/{sid}/admin-password")
            assert revealed.status_code == 200, revealed.text
            assert revealed.headers["cache-control"] == "no-store"
            password = revealed.json()["password"]
            secret = cluster.kubectl_json("get", "secret", "metered-credentials", "-n", ready["namespace"])
            assert len(password) >= 16 and secret["data"]["admin-password"]  # the chart's generated value

            stranger = platform.client.get(
                f"/api/v1/stores/{sid}/admin-password", headers={"Authorization": "Bearer sp_" + "x" * 43}
            )
            assert stranger.status_code == 401

            audit = platform.client.get("/api/v1/audit", headers=platform.headers).json()
            assert [(e["action"], e["outcome"], e["target"]) for e in audit][:2] == [
                ("store.password_reveal", "success", f"store:{sid}"),
                ("store.create", "success", f"store:{sid}"),
            ]
            token = platform.headers["Authorization"].removeprefix("Bearer ")
            for haystack in (_database_text(settings.effective_database_url), log.getvalue(), str(audit)):
                assert password not in haystack
                assert token not in haystack

            # Every store action, for real, leaves its audit entry; helm's verbs are timed.
            rollbacks = _value(
                "storeplane_helm_command_duration_seconds_count", action="rollback", outcome="ok"
            )
            assert platform.post(f"/stores/{sid}/verify").status_code == 202
            until(
                lambda: ("verify", "helm test passed") in platform.events(sid),
                limit=300,
                what=lambda: "verify",
            )
            assert platform.post(f"/stores/{sid}/upgrade").status_code == 202
            assert platform.wait_for(sid, "ready", "failed")["helm_revision"] == 2
            assert platform.post(f"/stores/{sid}/rollback", {"revision": 1}).status_code == 202
            assert platform.wait_for(sid, "ready", "failed")["helm_revision"] == 3
            assert platform.delete(f"/stores/{sid}").status_code == 202
            assert platform.wait_for(sid, "deleted", "failed")["status"] == "deleted"
            assert (
                _value("storeplane_helm_command_duration_seconds_count", action="rollback", outcome="ok")
                == rollbacks + 1
            )
            trail = platform.client.get(
                "/api/v1/audit", params={"target": f"store:{sid}"}, headers=platform.headers
            ).json()
            assert [(e["action"], e["outcome"], e["actor"]) for e in reversed(trail)] == [
                ("store.create", "success", "alice"),
                ("store.password_reveal", "success", "alice"),
                ("store.verify", "success", "alice"),
                ("store.upgrade", "success", "alice"),
                ("store.rollback", "success", "alice"),
                ("store.delete", "success", "alice"),
            ]
            assert all(e["client_ip"] and e["request_id"] for e in trail)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        logging.getLogger().removeHandler(handler)
