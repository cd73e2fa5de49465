"""The platform chart as rendered: hardened containers, the right processes per database, secrets
generated (never from values), metrics off the public path, least-privilege RBAC, admission fence."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

from app.settings import Settings
from tests.unit.chart.render import CHART as STORE_CHART
from tests.unit.chart.render import render as render_store
from tests.unit.platform.platform_render import (
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    config,
    find,
    one,
    pod_specs,
    render,
)

POSTGRES = {"database": {"type": "postgresql"}, "api": {"replicas": 2}, "worker": {"replicas": 3}}


def containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, container, is_init) for every container of a pod spec."""
    return [(c["name"], c, True) for c in spec.get("initContainers", [])] + [
        (c["name"], c, False) for c in spec["containers"]
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_has_resources_security_context_and_probes(scenario: str) -> None:
    objects = render(files=(SCENARIOS[scenario],))
    specs = pod_specs(objects)
    assert specs, "nothing that runs pods was rendered"
    for where, spec in specs.items():
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, where
        assert pod_security["runAsUser"] != 0, where
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", where
        for name, container, is_init in containers(spec):
            label = f"{where} container {name}"
            resources = container["resources"]
            assert set(resources["requests"]) >= {"cpu", "memory"}, label
            assert set(resources["limits"]) >= {"cpu", "memory"}, label
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, label
            assert security["readOnlyRootFilesystem"] is True, label
            assert security["capabilities"]["drop"] == ["ALL"], label
            assert security["runAsNonRoot"] is True, label
            if not is_init:  # init containers cannot have probes: they run to completion
                assert "livenessProbe" in container, label
                assert "readinessProbe" in container, label
            image = container["image"]
            assert not image.endswith(":latest") and (":" in image.rsplit("/", 1)[-1] or "@" in image), label


def test_sqlite_runs_one_api_pod_with_embedded_workers_on_a_volume() -> None:
    objects = render()
    api = one(objects, "Deployment", "-api")
    assert api["spec"]["replicas"] == 1
    assert api["spec"]["strategy"]["type"] == "Recreate"
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "app", "serve"]
    assert "args" not in container, "on SQLite the API pod must run the workers"
    assert find(objects, "Deployment", "-worker") == []
    assert find(objects, "StatefulSet") == []
    claim = one(objects, "PersistentVolumeClaim", "-data")
    volumes = {v["name"]: v for v in api["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "STOREPLANE_DATABASE_URL" not in str(container.get("env", []))


def test_sqlite_with_no_workers_serves_the_api_only() -> None:
    api = one(render({"worker": {"replicas": 0}}), "Deployment", "-api")
    assert api["spec"]["template"]["spec"]["containers"][0]["args"] == ["--no-workers"]


def test_postgresql_runs_api_and_workers_as_separate_deployments() -> None:
    objects = render(POSTGRES)
    api = one(objects, "Deployment", "-api")
    worker = one(objects, "Deployment", "-worker")
    assert api["spec"]["replicas"] == 2
    assert worker["spec"]["replicas"] == 3
    api_container = api["spec"]["template"]["spec"]["containers"][0]
    worker_container = worker["spec"]["template"]["spec"]["containers"][0]
    assert api_container["args"] == ["--no-workers"]
    assert worker_container["command"] == ["python", "-m", "app", "worker"]
    database = one(objects, "Secret", "-postgresql")["metadata"]["name"]
    for deployment in (api, worker):
        spec = deployment["spec"]["template"]["spec"]
        for _, container, _ in containers(spec):
            url = next(e for e in container["env"] if e["name"] == "STOREPLANE_DATABASE_URL")
            assert url["valueFrom"]["secretKeyRef"] == {"name": database, "key": "database-url"}
        assert spec["initContainers"][0]["command"] == [
            "python",
            "-m",
            "app",
            "migrate",
            "--wait-seconds",
            "300",
        ]
        assert "strategy" not in deployment["spec"], "several replicas roll, they are not recreated"
    assert find(objects, "PersistentVolumeClaim") == [], "no SQLite volume on PostgreSQL"


def test_bundled_postgresql_is_pinned_non_root_and_persistent() -> None:
    objects = render(POSTGRES)
    statefulset = one(objects, "StatefulSet", "-postgresql")
    spec = statefulset["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 999
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    assert re.fullmatch(r"docker\.io/library/postgres:\d+\.\d+-\w+", container["image"])
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
    service = one(objects, "Service", "-postgresql")
    assert service["spec"]["type"] == "ClusterIP"


def test_external_database_url_comes_from_the_named_secret() -> None:
    objects = render(files=(CHART / "ci" / "external-database-values.yaml",))
    assert find(objects, "StatefulSet") == []
    worker = one(objects, "Deployment", "-worker")
    url = next(
        e
        for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"] == "STOREPLANE_DATABASE_URL"
    )
    assert url["valueFrom"]["secretKeyRef"] == {"name": "storeplane-database", "key": "url"}


def test_secrets_are_generated_in_the_chart_never_read_from_values() -> None:
    first, second = render(POSTGRES), render(POSTGRES)
    for suffix in ("-secrets", "-postgresql"):
        a, b = one(first, "Secret", suffix)["data"], one(second, "Secret", suffix)["data"]
        assert all(a[key] != b[key] for key in a), f"{suffix}: every generated value differs between renders"
    generated = one(first, "Secret", "-secrets")
    assert set(generated["data"]) == {"session-secret", "admin-password"}
    data = config(first)
    assert data["STOREPLANE_ADMIN_PASSWORD_FILE"] == "/etc/storeplane/secrets/admin-password"
    assert data["STOREPLANE_SESSION_SECRET_FILE"] == "/etc/storeplane/secrets/session-secret"
    assert not any(re.search("PASSWORD$|SECRET$|DATABASE_URL", key) for key in data), data.keys()


def test_values_files_hold_no_secret() -> None:
    secretish = re.compile(r"(password|secret|token)\s*:\s*\S", re.IGNORECASE)
    for path in (CHART / "values.yaml", *SCENARIOS.values()):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            assert not secretish.search(line) or "existingSecret" in line or "secretName" in line, (
                path,
                line,
            )


def test_every_setting_the_chart_sets_is_a_real_storeplane_knob() -> None:
    """A typo in a STOREPLANE_* name would be silently ignored by the app."""
    knobs = {f"STOREPLANE_{name.upper()}" for name in Settings.model_fields}
    for scenario, path in SCENARIOS.items():
        data = config(render(files=(path,)))
        unknown = {key for key in data if key.startswith("STOREPLANE_")} - knobs
        assert not unknown, f"{scenario}: not Storeplane settings: {unknown}"


def test_metrics_are_on_their_own_port_and_service_never_behind_the_ingress() -> None:
    objects = render(files=(SCENARIOS["values/prod.yaml"],))
    api_service = one(objects, "Service", "-api")
    assert [p["targetPort"] for p in api_service["spec"]["ports"]] == ["http"]
    ingress = one(objects, "Ingress")
    backends = [
        path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": api_service["metadata"]["name"], "port": {"name": "http"}}]
    metrics = one(objects, "Service", "-storeplane-metrics")
    assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"
    ports = {
        p["name"]: p["containerPort"]
        for p in one(objects, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert ports == {"http": 8000, "metrics": 9464}
    data = config(objects)
    assert (data["STOREPLANE_PORT"], data["STOREPLANE_METRICS_PORT"]) == ("8000", "9464")


def test_tls_through_cert_manager_on_the_ingress() -> None:
    ingress = one(render(files=(SCENARIOS["values/prod.yaml"],)), "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["storeplane.example.com"], "secretName": f"{RELEASE}-storeplane-tls"}
    ]
    assert ingress["spec"]["ingressClassName"] == "traefik"


def test_hpa_replaces_the_fixed_api_replica_count() -> None:
    objects = render(files=(SCENARIOS["values/prod.yaml"],))
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert hpa["spec"]["scaleTargetRef"]["name"] == one(objects, "Deployment", "-api")["metadata"]["name"]
    assert "replicas" not in one(objects, "Deployment", "-api")["spec"]
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_inline_store_defaults_replace_the_file_in_the_image() -> None:
    objects = render(files=(CHART / "ci" / "production-values.yaml",))
    stored = one(objects, "ConfigMap", "-store-values")
    assert yaml.safe_load(stored["data"]["values.yaml"])["tls"]["clusterIssuer"] == "letsencrypt-prod"
    assert config(objects)["STOREPLANE_STORE_VALUES_FILE"] == "/etc/storeplane/stores/values.yaml"
    for name in ("-api", "-worker"):
        spec = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/etc/storeplane/stores" in mounts, name
    assert config(render())["STOREPLANE_STORE_VALUES_FILE"] == "/app/values/stores-local.yaml"


# --- RBAC -----------------------------------------------------------------------------------------

STORE_MANAGER = f"{NAMESPACE}-{RELEASE}-storeplane-store-manager"
SERVICE_ACCOUNT = f"{RELEASE}-storeplane-provisioner"
# Kind in the store chart -> (API group, resource) the store-manager role must cover.
RESOURCE_OF = {
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Pod": ("", "pods"),
    "ResourceQuota": ("", "resourcequotas"),
    "LimitRange": ("", "limitranges"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
}


def grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(group, resource) -> verbs."""
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_store_manager_covers_exactly_the_store_charts_kinds() -> None:
    store_kinds = {
        o["kind"] for o in render_store(files=(STORE_CHART.parent / "values" / "stores-prod.yaml",))
    }
    assert store_kinds <= set(RESOURCE_OF), (
        f"store chart has kinds the test does not map: {store_kinds - set(RESOURCE_OF)}"
    )
    role = grants(one(render(), "ClusterRole", "-store-manager"))
    for kind in store_kinds:
        verbs = role.get(RESOURCE_OF[kind], set())
        assert {"get", "create", "patch", "delete"} <= verbs, f"{kind}: {verbs}"
    writable = {key for key, verbs in role.items() if verbs & {"create", "update", "patch", "delete"}}
    assert writable == {RESOURCE_OF[kind] for kind in store_kinds} | {("", "secrets"), ("", "pods")}
    assert role[("", "pods/log")] == {"get", "list", "watch"}
    assert "*" not in str(role)


def test_provisioner_holds_no_store_rights_cluster_wide() -> None:
    objects = render()
    role = one(objects, "ClusterRole", "-provisioner")
    rights = grants(role)
    assert set(rights) == {
        ("", "namespaces"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "persistentvolumes"),
    }
    assert rights[("rbac.authorization.k8s.io", "rolebindings")] == {"get", "create"}
    bind = next(r for r in role["rules"] if r["resources"] == ["clusterroles"])
    assert (bind["verbs"], bind["resourceNames"]) == (["bind"], [STORE_MANAGER])
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]
    assert find(objects, "RoleBinding") == [], (
        "store-manager is bound per store namespace, by the provisioner"
    )
    assert config(objects)["STOREPLANE_STORE_ROLE"] == STORE_MANAGER


def test_admission_policy_matches_the_provisioner_only_and_denies() -> None:
    objects = render()
    policy = one(objects, "ValidatingAdmissionPolicy")
    (condition,) = policy["spec"]["matchConditions"]
    assert (
        condition["expression"]
        == f'request.userInfo.username == "system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"'
    )
    resources = {
        r["resources"][0]: r["operations"] for r in policy["spec"]["matchConstraints"]["resourceRules"]
    }
    assert resources == {
        "namespaces": ["CREATE", "UPDATE", "DELETE"],
        "rolebindings": ["CREATE", "UPDATE", "DELETE"],
        "persistentvolumes": ["DELETE"],
    }
    assert policy["spec"]["failurePolicy"] == "Fail"
    text = str(policy["spec"]["validations"])
    assert STORE_MANAGER in text and SERVICE_ACCOUNT in text and "'store-'" in text
    binding = one(objects, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


def test_rbac_off_sets_no_store_role() -> None:
    objects = render({"rbac": {"enabled": False}, "admissionPolicy": {"enabled": False}})
    assert find(objects, "ClusterRole") == [] and find(objects, "ValidatingAdmissionPolicy") == []
    assert config(objects)["STOREPLANE_STORE_ROLE"] == ""


def test_cluster_scoped_names_include_the_release_namespace() -> None:
    names = {o["metadata"]["name"] for o in render() if o["kind"] in ("ClusterRole", "ClusterRoleBinding")}
    assert all(name.startswith(f"{NAMESPACE}-{RELEASE}-") for name in names), names


# --- NetworkPolicies ------------------------------------------------------------------------------


def test_network_policies_deny_by_default_and_open_only_the_platform_flows() -> None:
    objects = render(POSTGRES)
    policies = {
        o["metadata"]["name"].removeprefix(f"{RELEASE}-storeplane-"): o["spec"]
        for o in find(objects, "NetworkPolicy")
    }
    assert set(policies) == {"default-deny", "dns", "api-ingress", "postgresql", "app-egress"}, (
        "no scraper named"
    )
    assert policies["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policies["default-deny"] and "egress" not in policies["default-deny"]
    (from_controller,) = policies["api-ingress"]["ingress"]
    assert from_controller["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert from_controller["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    (to_database,) = policies["postgresql"]["ingress"]
    assert to_database["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["api", "worker"]
    egress = policies["app-egress"]["egress"]
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert {p["port"] for p in egress[1]["ports"]} == {443, 6443}
    assert {p["port"] for p in policies["dns"]["egress"][0]["ports"]} == {53}


def test_metrics_port_is_open_only_to_the_named_scraper_namespace() -> None:
    default = render(POSTGRES)
    assert find(default, "NetworkPolicy", "-metrics") == [], "no scraper named: no one"
    (from_controller,) = one(default, "NetworkPolicy", "-api-ingress")["spec"]["ingress"]
    assert from_controller["ports"] == [{"protocol": "TCP", "port": 8000}]
    prod = render(files=(SCENARIOS["values/prod.yaml"],))
    scrape = one(prod, "NetworkPolicy", "-metrics")["spec"]
    assert scrape["podSelector"]["matchExpressions"][0]["values"] == ["api", "worker"]
    (rule,) = scrape["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9464}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    traefik = one(prod, "NetworkPolicy", "-api-ingress")["spec"]["ingress"][0]["from"][0]
    assert traefik["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "traefik"}


def test_workers_serve_their_own_metrics_through_their_own_service() -> None:
    objects = render(POSTGRES)
    worker = one(objects, "Deployment", "-worker")["spec"]["template"]
    assert worker["spec"]["containers"][0]["ports"] == [{"name": "metrics", "containerPort": 9464}]
    service = one(objects, "Service", "-worker-metrics")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "worker"
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert find(render(), "Service", "-worker-metrics") == [], "SQLite: workers are in the API pod"


def test_kube_api_egress_names_the_given_addresses() -> None:
    egress = one(render(files=(CHART / "ci" / "production-values.yaml",)), "NetworkPolicy", "-app-egress")
    assert egress["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "203.0.113.10/32"}}]


# --- Docs -----------------------------------------------------------------------------------------


# Values that are maps of the user's own keys (labels, resources...): documented as one value.
MAP_VALUES = {"requests", "limits", "namespaceSelector", "podSelector", "scraperNamespaceSelector"}


def leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in MAP_VALUES:
            keys += leaf_keys(value, f"{path}.")
        else:
            keys.append(path)
    return keys


def test_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [
        key for key in leaf_keys(values) if f"`{re.sub(r'[.](requests|limits)$', '', key)}`" not in readme
    ]
    assert not missing, f"README.md does not list: {missing}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_rendered_settings_load_in_the_app(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pods' environment, as the app's own Settings class reads it: every value parses."""
    for key in list(os.environ):
        if key.startswith("STOREPLANE_"):
            monkeypatch.delenv(key)
    for key, value in config(render(files=(SCENARIOS[scenario],))).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.port == 8000 and settings.host == "0.0.0.0"  # noqa: S104 - a pod listens on its IP
    assert settings.kubeconfig == "" and settings.helm_binary == "/usr/local/bin/helm"
    assert settings.store_role.endswith("-store-manager")
    assert settings.worker_concurrency <= settings.global_concurrency


def test_every_value_has_a_doc_comment() -> None:
    """Each value carries a `# --` comment (requests/limits: on their `resources:` block)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^\s*([A-Za-z][\w.-]*):\s*(\S.*)?$", line)
        if not match or match.group(2) is None or match.group(1) in ("requests", "limits"):
            continue  # a block header (its leaves carry the comments), or part of resources
        above = number - 1
        block = []
        while above >= 0 and lines[above].lstrip().startswith("#"):
            block.append(lines[above])
            above -= 1
        if not any("# --" in comment for comment in block):
            undocumented.append(line.strip())
    assert not undocumented, undocumented
