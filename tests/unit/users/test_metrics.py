"""Metrics: the registry, the database-backed gauges, helm timing, and the separate /metrics port."""

import httpx
import pytest

from app import metrics


def _value(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def state_source():
    yield metrics.set_state_source
    metrics.set_state_source(None)


def test_store_and_job_gauges_are_read_from_the_registered_source_at_scrape_time(state_source):
    counts = metrics.StateCounts({"Ready": 2, "Provisioning": 1}, {"queued": 3})
    state_source(lambda: counts)
    assert _value("storeplane_stores", {"status": "Ready"}) == 2
    assert _value("storeplane_jobs", {"state": "queued"}) == 3
    assert _value("storeplane_jobs", {"state": "running"}) == 0
    counts = metrics.StateCounts({"Ready": 3}, {"running": 1})
    assert _value("storeplane_stores", {"status": "Ready"}) == 3
    assert _value("storeplane_jobs", {"state": "running"}) == 1


def test_helm_commands_are_timed_with_their_outcome():
    ok_before = _value(
        "storeplane_helm_command_duration_seconds_count", {"action": "test-x", "outcome": "ok"}
    )
    with metrics.time_helm("test-x"):
        pass
    with pytest.raises(RuntimeError), metrics.time_helm("test-x"):
        raise RuntimeError("helm failed")
    assert _value(
        "storeplane_helm_command_duration_seconds_count", {"action": "test-x", "outcome": "ok"}
    ) == (ok_before + 1)
    assert (
        _value("storeplane_helm_command_duration_seconds_count", {"action": "test-x", "outcome": "error"})
        >= 1
    )


def test_provisioning_outcomes_and_steps_are_recorded():
    metrics.provisioning_succeeded("unit-engine", 42.0)
    metrics.provisioning_failed("unit-engine", "quota_exceeded")
    metrics.observe_step("provision", "unit-step", 1.5)
    assert _value("storeplane_provisioning_duration_seconds_sum", {"engine": "unit-engine"}) >= 42.0
    assert (
        _value(
            "storeplane_provisioning_failures_total", {"engine": "unit-engine", "reason": "quota_exceeded"}
        )
        >= 1
    )
    assert _value("storeplane_step_duration_seconds_count", {"action": "provision", "step": "unit-step"}) >= 1


def test_metrics_are_served_on_their_own_port():
    server, thread = metrics.serve("127.0.0.1", 0)
    try:
        port = server.server_port
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert "# TYPE storeplane_stores_created_total counter" in body
    assert "# TYPE storeplane_rate_limit_rejections_total counter" in body
    assert "process_resident_memory_bytes" in body


def test_a_failing_source_hides_only_the_gauges(state_source, caplog):
    def broken() -> metrics.StateCounts:
        raise ConnectionError("database is down")

    state_source(broken)
    assert metrics.REGISTRY.get_sample_value("storeplane_stores", {"status": "ready"}) is None
    assert metrics.REGISTRY.get_sample_value("process_resident_memory_bytes") > 0
    assert "counting stores and jobs for /metrics failed" in caplog.text
