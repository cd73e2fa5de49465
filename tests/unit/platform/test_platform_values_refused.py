"""Bad platform values are refused before anything is rendered, with a message naming the value and
what to do: the schema for single values, the chart's own checks for combinations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.chart.render import helm
from tests.unit.platform.platform_render import CHART, SCENARIOS, render_error

SCHEMA_REFUSALS = [
    pytest.param(
        {"database": {"type": "mysql"}},
        "at '/database/type': value must be one of 'sqlite', 'postgresql', 'external'",
        id="database-type",
    ),
    pytest.param(
        {"api": {"replicas": 0}}, "at '/api/replicas': minimum: got 0, want 1", id="api-replicas-min"
    ),
    pytest.param(
        {"worker": {"replicas": "two"}}, "at '/worker/replicas': got string, want integer", id="int-type"
    ),
    pytest.param(
        {
            "api": {
                "resources": {
                    "limits": {"cpu": "fast", "memory": "1Gi"},
                    "requests": {"cpu": 1, "memory": "1Gi"},
                }
            }
        },
        "at '/api/resources/limits/cpu': 'fast' does not match pattern",
        id="cpu-quantity",
    ),
    pytest.param(
        {"database": {"sqlite": {"size": "1GB"}}},
        "at '/database/sqlite/size': '1GB' does not match pattern",
        id="storage-quantity",
    ),
    pytest.param(
        {"ingress": {"tls": {"enabled": True}}},
        "at '/ingress/tls/clusterIssuer': minLength: got 0, want 1",
        id="tls-needs-issuer",
    ),
    pytest.param({"host": "Store Plane"}, "at '/host'", id="host-not-dns"),
    pytest.param(
        {"auth": {"trustedProxies": ["10.0.0.1"]}},
        "at '/auth/trustedProxies/0': '10.0.0.1' does not match pattern",
        id="cidr",
    ),
    pytest.param(
        {"stores": {"urlScheme": "ftp"}},
        "at '/stores/urlScheme': value must be one of 'http', 'https'",
        id="url-scheme",
    ),
    pytest.param({"image": {"digest": "md5:abc"}}, "at '/image/digest'", id="image-digest"),
    pytest.param({"logLevel": "LOUD"}, "at '/logLevel': value must be one of", id="log-level"),
    pytest.param(
        {"ingres": {"enabled": False}}, "additional properties 'ingres' not allowed", id="unknown-key"
    ),
    pytest.param(
        {"config": {"storeplane_x": "1"}}, "invalid propertyName 'storeplane_x'", id="config-key-name"
    ),
]

CHART_REFUSALS = [
    pytest.param({"api": {"replicas": 2}}, "api.replicas=2 needs PostgreSQL", id="sqlite-api-replicas"),
    pytest.param(
        {"worker": {"replicas": 2}}, "worker.replicas=2 needs PostgreSQL", id="sqlite-worker-replicas"
    ),
    pytest.param(
        {"api": {"autoscaling": {"enabled": True}}},
        "api.autoscaling.enabled=true needs PostgreSQL",
        id="sqlite-hpa",
    ),
    pytest.param(
        {"database": {"type": "external"}},
        "database.type=external needs database.external.existingSecret",
        id="external-without-secret",
    ),
    pytest.param(
        {"worker": {"concurrency": 20, "globalConcurrency": 8}},
        "worker.concurrency (20) cannot exceed worker.globalConcurrency (8)",
        id="concurrency",
    ),
    pytest.param({"image": {"tag": "latest"}}, 'image tags must be pinned: "latest"', id="latest-tag"),
    pytest.param({"metrics": {"port": 8000}}, "metrics.port cannot be 8000", id="metrics-on-api-port"),
    pytest.param(
        {"config": {"STOREPLANE_ADMIN_PASSWORD": "hunter22hunter22"}},
        "config.STOREPLANE_ADMIN_PASSWORD looks secret and values files are not for secrets",
        id="secret-in-config",
    ),
    pytest.param(
        {"config": {"STOREPLANE_LOG_LEVEL": "DEBUG"}},
        "config.STOREPLANE_LOG_LEVEL is set by the chart itself",
        id="config-overrides-chart",
    ),
    pytest.param(
        {
            "database": {"type": "postgresql"},
            "api": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}},
        },
        "api.autoscaling.minReplicas (5) cannot exceed api.autoscaling.maxReplicas (3)",
        id="hpa-bounds",
    ),
    pytest.param(
        {"host": "", "ingress": {"enabled": True}}, "ingress.enabled=true needs host", id="ingress-host"
    ),
    pytest.param(
        {"rbac": {"enabled": False}},
        "admissionPolicy.enabled=true needs rbac.enabled=true",
        id="policy-without-rbac",
    ),
]


@pytest.mark.parametrize(("values", "message"), SCHEMA_REFUSALS + CHART_REFUSALS)
def test_bad_values_are_refused_with_a_message_naming_them(values: dict[str, Any], message: str) -> None:
    error = render_error(values)
    assert message in error
    assert "hunter22" not in error, "a refused secret must not be echoed"


def test_a_refused_secret_is_not_echoed_back() -> None:
    error = render_error({"config": {"STOREPLANE_SESSION_SECRET": "s3cr3t-value-xyz"}})
    assert "s3cr3t-value-xyz" not in error


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict_is_clean(scenario: str) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(SCENARIOS[scenario]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout
