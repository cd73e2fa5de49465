"""The platform's own deployment (issue 14) as rendered: sizing rules, connection budget, the bundled
PostgreSQL's upgrade safety, GitOps-friendly secrets, HTTPS redirect, graceful stops, readiness, and
the k3s Traefik configuration that keeps client addresses."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.auth.settings import UsersSettings
from app.settings import Settings
from tests.unit.platform.platform_render import (
    CHART,
    ROOT,
    SCENARIOS,
    config,
    find,
    one,
    render,
    render_error,
)

POSTGRES: dict[str, Any] = {"database": {"type": "postgresql"}}


def pod(objects: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    return one(objects, kind, suffix)["spec"]["template"]


# --- connection budget --------------------------------------------------------------------------


def test_postgresql_pods_get_the_pool_settings_and_sqlite_pods_do_not() -> None:
    data = config(render(POSTGRES))
    assert (data["STOREPLANE_DB_POOL_SIZE"], data["STOREPLANE_DB_MAX_OVERFLOW"]) == ("5", "3")
    assert data["STOREPLANE_DB_POOL_TIMEOUT"] == "10"
    assert not {k for k in config(render()) if k.startswith("STOREPLANE_DB_")}


def budget(api: int, workers: int, size: int, overflow: int) -> int:
    """docs/operations.md §8: pods at most, plus a 25% surge each, times pool + 1, plus 3 reserved."""
    pods = api + -(-api // 4) + workers + -(-workers // 4)
    return pods * (size + overflow + 1) + 3


@pytest.mark.parametrize(("api", "workers"), [(6, 1), (4, 2), (2, 2), (10, 3)])
def test_the_connection_check_is_the_documented_formula(api: int, workers: int) -> None:
    values = {
        "database": {"type": "postgresql"},
        "api": {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": api}},
        "worker": {"replicas": workers},
    }
    needed = budget(api, workers, 5, 3)
    render({**values, "postgresql": {"maxConnections": needed}})  # exactly enough: accepted
    refused = render_error({**values, "postgresql": {"maxConnections": needed - 1}})
    assert f"need {needed} connections; postgresql.maxConnections is {needed - 1}" in refused
    assert "Lower the pool or the replica counts, or raise postgresql.maxConnections" in refused


@pytest.mark.parametrize(
    "scenario", ["ci/postgresql-values.yaml", "ci/production-values.yaml", "values/prod.yaml"]
)
def test_the_shipped_postgresql_setups_fit_100_connections(scenario: str) -> None:
    statefulset = one(render(files=(SCENARIOS[scenario],)), "StatefulSet", "-postgresql")
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["args"] == ["-c", "max_connections=100"]


def test_the_default_hpa_maximum_fits_the_default_pool() -> None:
    """The chart's own defaults at their maximum: HPA 6 + 1 worker with a 5 + 3 pool."""
    render({**POSTGRES, "api": {"autoscaling": {"enabled": True}}})
    assert budget(6, 1, 5, 3) <= 100


# --- memory ---------------------------------------------------------------------------------------


def test_embedded_workers_need_room_for_their_helm_processes() -> None:
    # 200Mi for the process + 100Mi per helm process (storeplane.memoryRule) x concurrency 4 = 600Mi
    render({"api": {"resources": {"limits": {"cpu": "1", "memory": "600Mi"}}}})
    refused = render_error({"api": {"resources": {"limits": {"cpu": "1", "memory": "599Mi"}}}})
    assert "api.resources.limits.memory=599Mi is too small for the API pod with embedded workers" in refused
    assert "need 600Mi. Raise the limit to at least 600Mi, lower worker.concurrency" in refused
    # API only (workers elsewhere): the rule does not apply to the API pod.
    render({"api": {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}, "worker": {"replicas": 0}})


@pytest.mark.parametrize(
    ("memory", "accepted"), [("1Gi", True), ("0.5Gi", False), ("700M", True), ("600M", False)]
)
def test_worker_limits_are_checked_in_any_unit(memory: str, accepted: bool) -> None:
    values = {
        **POSTGRES,
        "worker": {"concurrency": 4, "resources": {"limits": {"cpu": "1", "memory": memory}}},
    }
    if accepted:
        render(values)
    else:
        assert f"worker.resources.limits.memory={memory} is too small" in render_error(values)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_shipped_scenario_passes_the_sizing_rules(scenario: str) -> None:
    assert render(files=(SCENARIOS[scenario],))


# --- the bundled PostgreSQL -------------------------------------------------------------------------


def test_postgresql_pod_template_has_no_version_labels_so_chart_bumps_do_not_restart_it() -> None:
    objects = render(POSTGRES)
    for kind, suffix in (("StatefulSet", "-postgresql"), ("Deployment", "-api"), ("Deployment", "-worker")):
        labels = pod(objects, kind, suffix)["metadata"]["labels"]
        assert "helm.sh/chart" not in labels and "app.kubernetes.io/version" not in labels, suffix
        selector = one(objects, kind, suffix)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), suffix


def test_postgresql_statefulset_is_governed_by_a_headless_service() -> None:
    objects = render(POSTGRES)
    statefulset = one(objects, "StatefulSet", "-postgresql")
    governing = one(objects, "Service", statefulset["spec"]["serviceName"])
    assert governing["spec"]["clusterIP"] == "None"
    assert governing["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert one(objects, "Service", "-postgresql")["spec"]["type"] == "ClusterIP", "clients keep a stable IP"


def test_postgresql_stops_in_fast_mode_within_its_grace_period() -> None:
    spec = pod(render(POSTGRES), "StatefulSet", "-postgresql")["spec"]
    command = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:3] == ["pg_ctl", "stop", "-D"] and command[4:6] == ["-m", "fast"]
    assert command[3] == next(e["value"] for e in spec["containers"][0]["env"] if e["name"] == "PGDATA")
    wait = int(command[command.index("-t") + 1])
    assert spec["terminationGracePeriodSeconds"] > wait


def test_the_migrate_init_container_waits_for_the_database() -> None:
    objects = render({**POSTGRES, "migrate": {"waitSeconds": 120}})
    for suffix in ("-api", "-worker"):
        (init,) = pod(objects, "Deployment", suffix)["spec"]["initContainers"]
        assert init["command"] == ["python", "-m", "app", "migrate", "--wait-seconds", "120"]


# --- secrets for GitOps renderers --------------------------------------------------------------------


def test_existing_secrets_replace_the_generated_ones() -> None:
    objects = render(
        {**POSTGRES, "auth": {"existingSecret": "app-keys"}, "postgresql": {"existingSecret": "db"}}
    )
    assert find(objects, "Secret") == [], "nothing generated: a renderer without lookup stays stable"
    database = pod(objects, "StatefulSet", "-postgresql")["spec"]["containers"][0]
    password = next(e for e in database["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "db", "key": "password"}
    for suffix in ("-api", "-worker"):
        spec = pod(objects, "Deployment", suffix)["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "app-keys"
        url = next(e for e in spec["containers"][0]["env"] if e["name"] == "STOREPLANE_DATABASE_URL")
        assert url["valueFrom"]["secretKeyRef"] == {"name": "db", "key": "database-url"}


def test_the_admin_name_rule_is_the_apps_own() -> None:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    chart_rule = schema["properties"]["auth"]["properties"]["adminUsername"]["pattern"]
    app_rule = next(
        m.pattern for m in UsersSettings.model_fields["admin_username"].metadata if hasattr(m, "pattern")
    )
    assert chart_rule == app_rule
    for refused in ("a.", "x", "Admin", "ops-"):
        assert "adminUsername" in render_error({"auth": {"adminUsername": refused}}), refused
    assert (
        config(render({"auth": {"adminUsername": "ops.admin"}}))["STOREPLANE_ADMIN_USERNAME"] == "ops.admin"
    )
    Settings(admin_username="ops.admin")


# --- HTTPS redirect, graceful stop, readiness ----------------------------------------------------------

TLS = {"enabled": True, "clusterIssuer": "letsencrypt-prod"}


def test_https_redirect_with_nginx_is_its_annotation() -> None:
    ingress = one(render({"ingress": {"className": "nginx", "tls": TLS}}), "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    plain = one(render({"ingress": {"className": "nginx"}}), "Ingress")
    assert "nginx.ingress.kubernetes.io/ssl-redirect" not in (plain["metadata"].get("annotations") or {})


def test_https_redirect_with_traefik_is_a_middleware_the_ingress_names() -> None:
    objects = render({"ingress": {"className": "traefik", "tls": TLS}})
    middleware = one(objects, "Middleware", "-https-redirect")
    assert middleware["apiVersion"] == "traefik.io/v1alpha1"
    assert middleware["spec"] == {"redirectScheme": {"scheme": "https", "permanent": True}}
    annotations = one(objects, "Ingress")["metadata"]["annotations"]
    expected = f"storeplane-{middleware['metadata']['name']}@kubernetescrd"  # <namespace>-<name>
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == expected
    off = render({"ingress": {"className": "traefik", "tls": TLS, "httpsRedirect": False}})
    assert find(off, "Middleware") == []
    assert (
        "traefik.ingress.kubernetes.io/router.middlewares"
        not in one(off, "Ingress")["metadata"]["annotations"]
    )


def test_the_api_keeps_serving_while_endpoints_catch_up_then_drains() -> None:
    spec = pod(render(), "Deployment", "-api")["spec"]
    sleep = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert sleep == 5
    drain = Settings().shutdown_grace_seconds + 10  # app/__main__.py: uvicorn's graceful timeout
    assert spec["terminationGracePeriodSeconds"] >= sleep + drain
    none = pod(render({"api": {"preStopSleepSeconds": 0}}), "Deployment", "-api")["spec"]
    assert "lifecycle" not in none["containers"][0]


def test_readiness_probes_ask_for_what_the_pod_needs_to_serve() -> None:
    objects = render(POSTGRES)
    api = pod(objects, "Deployment", "-api")["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = pod(objects, "Deployment", "-worker")["spec"]["containers"][0]
    assert worker["readinessProbe"]["exec"]["command"] == ["python", "-m", "app", "probe", "ready"]
    assert worker["livenessProbe"]["exec"]["command"] == ["python", "-m", "app", "probe", "alive"]
    assert not find(objects, "ConfigMap", "-worker-probe"), "the probe ships in the image now"


# --- k3s: client addresses --------------------------------------------------------------------------


def test_the_k3s_traefik_config_keeps_client_addresses() -> None:
    (config_object,) = list(yaml.safe_load_all((ROOT / "deploy" / "k3s" / "traefik-config.yaml").read_text()))
    assert config_object["apiVersion"] == "helm.cattle.io/v1" and config_object["kind"] == "HelmChartConfig"
    # k3s merges a HelmChartConfig into the HelmChart of the same name and namespace.
    assert config_object["metadata"] == {"name": "traefik", "namespace": "kube-system"}
    values = yaml.safe_load(config_object["spec"]["valuesContent"])
    assert values == {"service": {"spec": {"externalTrafficPolicy": "Local"}}}


def test_prod_trusts_exactly_the_k3s_pod_network_where_traefik_runs() -> None:
    prod = yaml.safe_load((ROOT / "values" / "prod.yaml").read_text())
    assert prod["ingress"]["className"] == "traefik"
    assert prod["auth"]["trustedProxies"] == ["10.42.0.0/16"]  # k3s's default cluster-cidr
    assert (
        config(render(files=(SCENARIOS["values/prod.yaml"],)))["STOREPLANE_TRUSTED_PROXIES"] == "10.42.0.0/16"
    )


def test_notes_warn_when_client_addresses_would_be_lost() -> None:
    from tests.unit.chart.render import helm

    def notes(*args: str) -> str:
        done = helm("install", "sp", str(CHART), "-n", "storeplane", "--dry-run=client", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "WARNING: auth.trustedProxies is empty" in notes()
    prod = notes("-f", str(SCENARIOS["values/prod.yaml"]))
    assert "WARNING: auth.trustedProxies" not in prod
    assert "apply deploy/k3s/traefik-config.yaml" in prod
