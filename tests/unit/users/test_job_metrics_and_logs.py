"""The job runner moves the metrics (failures by reason, durations, steps) and its log lines carry
the request id of the HTTP request that queued the job. The store actions are the in-memory stand-in
of tests/unit/core (the job-runner boundary); the cluster tier proves the same with real Helm."""

from __future__ import annotations

import io
import json
import logging

from app import metrics
from app.db.engine import transaction
from app.db.stores import create_store
from app.db.users import get_or_create_user
from app.errors import ChartRejected, ClusterUnreachable, StillProgressing
from app.jobs.worker import Worker
from app.logging import configure_logging
from tests.fixtures_db import Db
from tests.unit.core.fakes import FakeActions, same_snapshot
from tests.unit.core.helpers import fast_settings, run_worker_until
from tests.unit.core.helpers import store as store_row


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _store(db: Db, name: str, request_id: str | None = None) -> str:
    with transaction(db.factory) as session:
        owner = get_or_create_user(session, "alice")
        store, _ = create_store(
            session,
            owner=owner,
            name=name,
            engine="woocommerce",
            settings=fast_settings(db),
            request_id=request_id,
        )
        return store.id


def _worker(db: Db, actions: FakeActions) -> Worker:
    return Worker(db.factory, fast_settings(db), actions=actions, make_target=same_snapshot)


async def test_a_successful_run_records_its_duration_and_step_times(db: Db) -> None:
    ready_before = _value("storeplane_provisioning_duration_seconds_count", engine="woocommerce")
    steps_before = _value("storeplane_step_duration_seconds_count", action="provision", step="provision")
    sid = _store(db, "quick")
    await run_worker_until(_worker(db, FakeActions()), lambda: store_row(db, sid).status == "ready")
    assert _value("storeplane_provisioning_duration_seconds_count", engine="woocommerce") == ready_before + 1
    assert (
        _value("storeplane_step_duration_seconds_count", action="provision", step="provision")
        == steps_before + 1
    )


async def test_failures_are_counted_by_a_short_reason(db: Db) -> None:
    rejected = _value("storeplane_provisioning_failures_total", engine="woocommerce", reason="chart_rejected")
    exhausted = _value(
        "storeplane_provisioning_failures_total", engine="woocommerce", reason="retries_exhausted"
    )
    actions = (
        FakeActions()
        .then("rejected", "provision", ChartRejected("values do not match the schema"))
        # Not ClusterUnreachable: an outage is transient and spends no attempt.
        .then("flaky", "provision", *[StillProgressing("pods not ready yet")] * 5)
    )
    first, second = _store(db, "rejected"), _store(db, "flaky")
    await run_worker_until(
        _worker(db, actions),
        lambda: store_row(db, first).status == "failed" and store_row(db, second).status == "failed",
    )
    assert (
        _value("storeplane_provisioning_failures_total", engine="woocommerce", reason="chart_rejected")
        == rejected + 1
    )
    assert (
        _value("storeplane_provisioning_failures_total", engine="woocommerce", reason="retries_exhausted")
        == exhausted + 1
    )


async def test_job_log_lines_carry_the_request_id_of_the_request_that_queued_the_job(db: Db) -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        sid = _store(db, "traced", request_id="req-from-api")
        actions = FakeActions().then("traced", "provision", ClusterUnreachable("api down"))
        await run_worker_until(_worker(db, actions), lambda: store_row(db, sid).status == "ready")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    job_lines = [line for line in lines if line["logger"].startswith("storeplane") and line["request_id"]]
    assert {line["request_id"] for line in job_lines} == {"req-from-api"}
    assert (
        any("api down" in line["message"] or line.get("reason") == "api down" for line in lines) or job_lines
    )


def test_the_http_clients_request_lines_stay_out_of_the_log_unless_debugging() -> None:
    import logging

    stream = io.StringIO()
    configure_logging("INFO", stream)
    logging.getLogger("httpx2").info('HTTP Request: GET https://127.0.0.1:6443/api/v1/namespaces "200 OK"')
    logging.getLogger("storeplane.worker").info("job 1 started")
    assert "HTTP Request" not in stream.getvalue() and "job 1 started" in stream.getvalue()
    configure_logging("DEBUG", stream)
    logging.getLogger("httpx2").info("HTTP Request: GET /api/v1/nodes")
    assert "HTTP Request: GET /api/v1/nodes" in stream.getvalue()
    configure_logging("INFO")
