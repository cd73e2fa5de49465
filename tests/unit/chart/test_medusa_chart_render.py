"""What `helm template` renders for `engine: medusa`: the workloads, their security and probes, the
set-up hook, the order test, the generated Secret, the Ingress, and the shared guardrails (quota
sized for a rolling update + set-up Job + test pod, network flows by component)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.chart.render import (
    CHART,
    VALUES_DIR,
    by_kind,
    helm,
    one,
    pod_specs,
    quantity,
    render,
    render_error,
)
from tests.unit.chart.test_chart_render import ENVIRONMENTS, allowed_flows

MEDUSA = {"engine": "medusa"}
FILES = CHART / "files" / "medusa"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(MEDUSA, files=(VALUES_DIR / "stores-local.yaml",))


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("values_file", ENVIRONMENTS, ids=lambda p: p.name)
def test_lint_strict_is_clean_for_medusa_in_every_environment(values_file: Path, tmp_path: Path):
    extra = tmp_path / "medusa.yaml"
    extra.write_text("engine: medusa\n")
    result = helm("lint", "--strict", str(CHART), "-f", str(values_file), "-f", str(extra))
    assert result.returncode == 0, result.stdout + result.stderr


def test_medusa_renders_its_own_workloads_and_none_of_woocommerce(objects):
    assert set(pod_specs(objects)) == {
        "Deployment/shop-medusa",
        "StatefulSet/shop-postgres",
        "Job/shop-setup-r1",
        "Pod/shop-order-test",
    }
    names = {f"{o['kind']}/{o['metadata']['name']}" for o in objects}
    assert {
        "Service/shop-medusa",
        "Service/shop-postgres",
        "Secret/shop-credentials",
        "Ingress/shop-web",
    } <= names
    assert not [n for n in names if "wordpress" in n or "mariadb" in n or "apache" in n]
    assert all(o["metadata"]["labels"]["storeplane.io/engine"] == "medusa" for o in objects)


def test_every_medusa_pod_is_restricted_non_root_read_only_and_bounded(objects):
    for where, spec in pod_specs(objects).items():
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "persistentVolumeClaim"}, (
                where
            )
        for c in containers(spec):
            ctx, name = c["securityContext"], f"{where}/{c['name']}"
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0, name
            assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) >= {"cpu", "memory"}, f"{name} {kind}"
            assert not c["image"].endswith(":latest") and ":" in c["image"], name


def test_images_are_ours_for_medusa_and_the_official_postgres(objects):
    specs = pod_specs(objects)
    workloads = ("Deployment/shop-medusa", "Job/shop-setup-r1", "Pod/shop-order-test")
    medusa_images = {c["image"] for w in workloads for c in containers(specs[w])}
    assert medusa_images == {"ghcr.io/storeplane/storeplane-medusa:2.21.2-1"}
    assert specs["StatefulSet/shop-postgres"]["containers"][0]["image"] == "postgres:15.17-bookworm"
    digest = "sha256:" + "a" * 64
    pinned = render(
        MEDUSA | {"images": {"medusa": {"repository": "registry.example/medusa", "digest": digest}}}
    )
    assert (
        pod_specs(pinned)["Deployment/shop-medusa"]["containers"][0]["image"]
        == f"registry.example/medusa@{digest}"
    )


def test_medusa_runs_as_the_node_user_migrates_first_and_probes_its_health_route(objects):
    deployment = one(objects, "Deployment", "shop-medusa")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = deployment["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000
    (migrate,) = pod["initContainers"]
    assert migrate["command"] == ["sh", "/app/scripts/setup.sh", "migrate"]
    (medusa,) = pod["containers"]
    assert medusa["command"] == [
        "/app/node_modules/.bin/medusa",
        "start",
        "--host",
        "0.0.0.0",  # noqa: S104 - the pod's own address, behind its Service
        "--port",
        "9000",
    ]
    assert medusa["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert medusa[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    env = env_of(medusa)
    assert env["NODE_ENV"]["value"] == "production"
    assert env["MEDUSA_DISABLE_TELEMETRY"]["value"] == "true"
    assert env["HOME"]["value"] == "/tmp"
    assert env["NODE_OPTIONS"]["value"] == "--max-old-space-size=640"
    assert "MEDUSA_ADMIN_DISABLED" not in env  # the image serves the admin at /app
    assert {m["mountPath"] for m in medusa["volumeMounts"]} == {"/tmp"}


def test_the_database_url_takes_its_password_from_the_secret_through_env_expansion(objects):
    for where, spec in pod_specs(objects).items():
        for c in containers(spec):
            names = [e["name"] for e in c.get("env", [])]
            if "DATABASE_URL" not in names:
                continue
            env = env_of(c)
            # Kubernetes expands $(VAR) only from variables defined earlier in the list.
            assert names.index("DATABASE_PASSWORD") < names.index("DATABASE_URL"), where
            assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
                "name": "shop-credentials",
                "key": "database-password",
            }
            assert (
                env["DATABASE_URL"]["value"]
                == "postgres://medusa:$(DATABASE_PASSWORD)@shop-postgres:5432/medusa"
            )
            for key in ("JWT_SECRET", "COOKIE_SECRET"):
                assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "shop-credentials", where


def test_postgres_runs_as_its_image_user_with_its_own_role_for_medusa(objects):
    sts = one(objects, "StatefulSet", "shop-postgres")["spec"]
    pod = sts["template"]["spec"]
    (pg,) = pod["containers"]
    assert pod["securityContext"]["runAsUser"] == 999 and pod["securityContext"]["fsGroup"] == 999
    env = env_of(pg)
    assert env["PGDATA"]["value"] == "/var/lib/postgresql/data/pgdata"  # below the mount: lost+found
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "postgres-password"
    assert env["MEDUSA_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "database-password"
    assert (env["MEDUSA_DB_USER"]["value"], env["MEDUSA_DB_NAME"]["value"]) == ("medusa", "medusa")
    mounts = {m["mountPath"]: m for m in pg["volumeMounts"]}
    assert set(mounts) == {
        "/var/lib/postgresql/data",
        "/var/run/postgresql",
        "/tmp",
        "/docker-entrypoint-initdb.d/10-medusa.sh",
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert pg[probe]["exec"]["command"][:2] == ["pg_isready", "--host=127.0.0.1"], probe
    assert sts["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    assert sts["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"  # local file


def test_the_secret_holds_every_generated_credential_and_values_hold_none(objects):
    secret = one(objects, "Secret", "shop-credentials")
    assert set(secret["data"]) == {
        "postgres-password",
        "database-password",
        "admin-password",
        "jwt-secret",
        "cookie-secret",
    }
    again = one(render(MEDUSA), "Secret")["data"]
    assert all(secret["data"][k] != again[k] for k in secret["data"])


def test_set_up_is_a_bounded_plain_job_per_revision_with_the_store_values(objects):
    job = one(objects, "Job", "shop-setup-r1")
    assert "helm.sh/hook" not in (job["metadata"].get("annotations") or {})
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (2, 900)
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "affinity" not in pod  # no shared volume to follow
    (setup,) = pod["containers"]
    assert setup["command"] == ["sh", "/app/scripts/setup.sh"]
    env = {k: v.get("value") for k, v in env_of(setup).items()}
    assert env["STORE_COUNTRIES"] == "us,ca" and env["STORE_CURRENCY"] == "usd"
    assert (env["PRODUCT_HANDLE"], env["PRODUCT_PRICE"], env["PRODUCT_STOCK"]) == (
        "storeplane-tshirt",
        "19.99",
        "100",
    )
    assert env["ADMIN_EMAIL"] == "admin@shop.localhost"
    assert env_of(setup)["ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "admin-password"


def test_order_test_runs_the_order_script_in_the_store_image_against_the_web_service(objects):
    pod = one(objects, "Pod", "shop-order-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (c,) = pod["spec"]["containers"]
    assert c["command"] == ["node", "/scripts/order-test.mjs"]
    env = env_of(c)
    assert env["STORE_URL"]["value"] == "http://shop-medusa"
    assert env["ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "admin-password"
    data = one(objects, "ConfigMap", "shop-scripts")["data"]
    assert data["order-test.mjs"] == (FILES / "order-test.mjs").read_text()
    assert data["postgres-init.sh"] == (FILES / "postgres-init.sh").read_text()


def test_medusa_serves_its_primary_host_and_redirects_the_others_with_cors_primary_first():
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text()) | MEDUSA
    objects = render(values, release="alpha")
    backends = {
        i["spec"]["rules"][0]["host"]: i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        for i in by_kind(objects, "Ingress")
    }
    assert backends == {
        "www.example.org": "alpha-medusa",
        "alpha.stores.example.net": "alpha-redirect",
        "shop.example.org": "alpha-redirect",
    }
    assert all(len(i["spec"]["tls"]) == 1 for i in by_kind(objects, "Ingress"))
    medusa = pod_specs(objects)["Deployment/alpha-medusa"]["containers"][0]
    origins = ["www.example.org", "alpha.stores.example.net", "shop.example.org"]
    assert env_of(medusa)["STORE_ORIGINS"]["value"] == ",".join(f"https://{h}" for h in origins)
    conf = one(objects, "ConfigMap", "alpha-redirect")["data"]["nginx.conf"]
    assert "return 301 https://www.example.org$request_uri;" in conf
    assert by_kind(render(MEDUSA | {"ingress": {"enabled": False}}), "Ingress") == []


def test_network_flows_are_the_store_flows_without_internet_for_medusa(objects):
    # The shared guardrails: DNS for every component (and cert-manager's solver), the order test
    # through the ingress controller's pods (Traefik's 8000/8443 by default); no cron, no internet.
    components = ("web", "database", "setup", "order-test", "acme-solver")
    assert allowed_flows(objects) == {(c, "dns", "53") for c in components} | {
        ("ingress-controller", "web", "9000"),
        ("order-test", "web", "9000"),
        ("order-test", "ingress-controller", "8000"),
        ("order-test", "ingress-controller", "8443"),
        ("web", "database", "5432"),
        ("setup", "database", "5432"),
    }


def _effective(spec: dict[str, Any], kind: str, res: str) -> Decimal:
    """A pod's effective request/limit: the larger of its containers' sum and any init container."""
    total = sum((quantity(c["resources"][kind][res]) for c in spec["containers"]), Decimal(0))
    inits = [quantity(c["resources"][kind][res]) for c in spec.get("initContainers", [])]
    return max([total, *inits])


@pytest.mark.parametrize("values_file", ENVIRONMENTS, ids=lambda p: p.name)
def test_peak_usage_of_a_rolling_update_set_up_and_order_test_fits_the_quota(values_file: Path):
    objects = render(MEDUSA, files=(values_file,))
    copies = {
        "Deployment/shop-medusa": 2,
        "StatefulSet/shop-postgres": 1,
        "Job/shop-setup-r1": 1,
        "Pod/shop-order-test": 1,
    }
    hard = one(objects, "ResourceQuota")["spec"]["hard"]
    specs = pod_specs(objects)
    assert set(specs) == set(copies)
    assert sum(copies.values()) <= int(hard["pods"])
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            peak = sum(n * _effective(specs[w], kind, res) for w, n in copies.items())
            assert peak <= quantity(hard[f"{kind}.{res}"]), (
                f"{kind}.{res}: peak {peak} > {hard[f'{kind}.{res}']}"
            )
    container_max = next(
        i["max"] for i in one(objects, "LimitRange")["spec"]["limits"] if i["type"] == "Container"
    )
    for where, spec in specs.items():
        for c in containers(spec):
            for res in ("cpu", "memory"):
                assert quantity(c["resources"]["limits"][res]) <= quantity(container_max[res]), where


def test_an_engine_the_chart_does_not_build_fails_rendering_naming_what_it_builds(tmp_path: Path):
    chart = tmp_path / "store-chart"
    shutil.copytree(CHART, chart)
    meta = (
        (chart / "Chart.yaml")
        .read_text()
        .replace("storeplane.io/engines: woocommerce,medusa", "storeplane.io/engines: woocommerce")
    )
    (chart / "Chart.yaml").write_text(meta)
    result = helm("template", "shop", str(chart), values=MEDUSA)
    assert result.returncode != 0
    assert 'engine "medusa" is not available in store chart 0.2.0: it builds woocommerce' in result.stderr


BAD_MEDUSA_VALUES = [
    pytest.param(
        {"medusa": {"currency": "USD"}}, "at '/medusa/currency': 'USD' does not match pattern", id="currency"
    ),
    pytest.param({"medusa": {"countries": ["usa"]}}, "at '/medusa/countries/0'", id="country-code"),
    pytest.param({"medusa": {"countries": []}}, "at '/medusa/countries': minItems", id="no-country"),
    pytest.param({"medusa": {"product": {"price": "19,99"}}}, "at '/medusa/product/price'", id="price"),
    pytest.param(
        {"medusa": {"product": {"handle": "Not A Handle"}}}, "at '/medusa/product/handle'", id="handle"
    ),
    pytest.param({"medusa": {"product": {"stock": 0}}}, "at '/medusa/product/stock': minimum", id="stock"),
    pytest.param(
        {"medusa": {"postgres": {"user": "postgres"}}}, "at '/medusa/postgres/user'", id="superuser-role"
    ),
    pytest.param(
        {"medusa": {"web": {"maxOldSpaceMiB": 64}}}, "at '/medusa/web/maxOldSpaceMiB': minimum", id="heap"
    ),
    pytest.param(
        {"medusa": {"redis": {"enabled": True}}}, "additional properties 'redis' not allowed", id="unknown"
    ),
    pytest.param({"images": {"medusa": {"digest": "sha1:abc"}}}, "at '/images/medusa/digest'", id="digest"),
]


@pytest.mark.parametrize(("values", "message"), BAD_MEDUSA_VALUES)
def test_the_schema_refuses_bad_medusa_values_with_a_readable_message(values: dict[str, Any], message: str):
    error = render_error(MEDUSA | values)
    assert "values don't meet the specifications of the schema" in error
    assert message in error
