"""Prometheus metrics: one registry, the metric objects, and the /metrics listener.

/metrics is served on its own port (STOREPLANE_METRICS_PORT) rather than on the API port: the
public ingress routes the API port, so the metrics stay internal unless someone routes them on
purpose. Counters and histograms are per process (Prometheus sums replicas); the stores-by-status and
jobs gauges are read from the database at scrape time, so every replica reports the same numbers:
aggregate them with max(), not sum().
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from app.engines import ENGINES

log = logging.getLogger("storeplane.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

_SLOW_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1200, 1800)
_COMMAND_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)

STORES_CREATED = Counter(
    "storeplane_stores_created", "Stores accepted for creation.", ["engine"], registry=REGISTRY
)
PROVISIONING_FAILURES = Counter(
    "storeplane_provisioning_failures",
    "Provisioning runs that ended Failed, by reason: the error class (chart_rejected, quota_exceeded…), "
    "retries_exhausted, deadline or internal_error.",
    ["engine", "reason"],
    registry=REGISTRY,
)
PROVISIONING_DURATION = Histogram(
    "storeplane_provisioning_duration_seconds",
    "Time from the create request to Ready, queueing and retries included.",
    ["engine"],
    buckets=_SLOW_BUCKETS,
    registry=REGISTRY,
)
# Every registered engine has its series from the start (zero until used), so a dashboard can tell
# "no Medusa store created yet" from "no data".
for _engine in ENGINES:
    STORES_CREATED.labels(engine=_engine)
    PROVISIONING_DURATION.labels(engine=_engine)

HELM_COMMAND_DURATION = Histogram(
    "storeplane_helm_command_duration_seconds",
    "Duration of one Helm command, by action and outcome.",
    ["action", "outcome"],
    buckets=_COMMAND_BUCKETS,
    registry=REGISTRY,
)
STEP_DURATION = Histogram(
    "storeplane_step_duration_seconds",
    "Duration of one step of a store action (the steps that appear in the store's activity log).",
    ["action", "step"],
    buckets=_COMMAND_BUCKETS,
    registry=REGISTRY,
)
DRIFT_SWEEP_DURATION = Histogram(
    "storeplane_drift_sweep_duration_seconds",
    "Duration of one drift sweep over every Ready store (manifests, live objects, comparison, write).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
RATE_LIMIT_REJECTIONS = Counter(
    "storeplane_rate_limit_rejections",
    "Requests refused by a rate limit, by scope (ip, user, login_ip, login_user).",
    ["scope"],
    registry=REGISTRY,
)
LIMIT_REJECTIONS = Counter(
    "storeplane_limit_rejections",
    "Store creations refused by a store limit, by limit name.",
    ["limit"],
    registry=REGISTRY,
)
KUBERNETES_API_UP = Gauge(
    "storeplane_kubernetes_api_up",
    "1 when this process's last check of the Kubernetes API answered, 0 when it did not (not part of "
    "readiness: the dashboard and the job queue work without it; store actions retry).",
    registry=REGISTRY,
)
KUBERNETES_API_LAST_SUCCESS = Gauge(
    "storeplane_kubernetes_api_last_success_timestamp_seconds",
    "Unix time of this process's last successful check of the Kubernetes API (0: none yet).",
    registry=REGISTRY,
)


@dataclass
class StateCounts:
    """What the database says now: stores by status, jobs by state (queued, running)."""

    stores_by_status: Mapping[str, int] = field(default_factory=dict)
    jobs_by_state: Mapping[str, int] = field(default_factory=dict)
    drifted: int = 0  # stores whose live objects differ from their release (app/fleet/drift.py)


StateSource = Callable[[], StateCounts]


class _StateCollector(Collector):
    """Gauges read at scrape time from a source the application registers (the database)."""

    def __init__(self) -> None:
        self.source: StateSource | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.source is None:
            return
        try:
            counts = self.source()
        except Exception:  # the database is unreachable: the other metrics must still be scraped
            log.exception("counting stores and jobs for /metrics failed")
            return
        stores = GaugeMetricFamily("storeplane_stores", "Stores by status.", labels=["status"])
        for status, count in sorted(counts.stores_by_status.items()):
            stores.add_metric([status], count)
        jobs = GaugeMetricFamily("storeplane_jobs", "Jobs by state (queued, running).", labels=["state"])
        for state in ("queued", "running"):
            jobs.add_metric([state], counts.jobs_by_state.get(state, 0))
        drifted = GaugeMetricFamily(
            "storeplane_stores_drifted",
            "Stores whose live objects differ from their release, as the last drift sweep found them.",
        )
        drifted.add_metric([], counts.drifted)
        yield stores
        yield jobs
        yield drifted


_STATE = _StateCollector()
REGISTRY.register(_STATE)


def set_state_source(source: StateSource | None) -> None:
    """Register (or clear) the function that counts stores and jobs for the gauges."""
    _STATE.source = source


@contextmanager
def time_helm(action: str) -> Iterator[None]:
    """Time one Helm command; the outcome label says whether it raised."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        HELM_COMMAND_DURATION.labels(action=action, outcome=outcome).observe(time.perf_counter() - started)


def observe_step(action: str, step: str, seconds: float) -> None:
    STEP_DURATION.labels(action=action, step=step).observe(seconds)


class StepTimer:
    """Step durations from the activity log: each event starts a step that lasts until the next
    event (or the end of the action), and is labelled with the event's step name."""

    def __init__(self, action: str) -> None:
        self.action = action
        self._step: str | None = None
        self._since = time.monotonic()

    def event(self, step: str) -> None:
        now = time.monotonic()
        if self._step is not None:
            observe_step(self.action, self._step, now - self._since)
        self._step, self._since = step, now

    def finish(self) -> None:
        if self._step is not None:
            observe_step(self.action, self._step, time.monotonic() - self._since)
            self._step = None


def reason_label(exc: BaseException) -> str:
    """A low-cardinality failure reason: the error class in snake case (ChartRejected → chart_rejected)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def provisioning_succeeded(engine: str, seconds: float) -> None:
    PROVISIONING_DURATION.labels(engine=engine).observe(seconds)


def provisioning_failed(engine: str, reason: str) -> None:
    PROVISIONING_FAILURES.labels(engine=engine, reason=reason).inc()


def serve(host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics on its own port in a daemon thread; shut down with server.shutdown()."""
    return start_http_server(port, addr=host, registry=REGISTRY)
