"""What `helm template` renders: security context, resources, probes, guardrails and the hooks."""

from __future__ import annotations

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

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
ENVIRONMENTS = [
    VALUES_DIR / "stores-local.yaml",
    VALUES_DIR / "stores-kind.yaml",
    VALUES_DIR / "stores-prod.yaml",
]
LONG_RUNNING = ("Deployment", "StatefulSet")


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(files=(VALUES_DIR / "stores-local.yaml",))


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("values_file", SCENARIOS + ENVIRONMENTS, ids=lambda p: p.name)
def test_lint_strict_is_clean_for_every_scenario_and_environment(values_file: Path):
    result = helm("lint", "--strict", str(CHART), "-f", str(values_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_every_scenario_is_in_ci_folder():
    assert {p.name for p in SCENARIOS} >= {
        "default-values.yaml",
        "tls-values.yaml",
        "custom-domains-values.yaml",
    }


def test_the_chart_never_creates_its_namespace(objects):
    assert by_kind(objects, "Namespace") == []
    assert all("namespace" not in o["metadata"] for o in objects)


def test_every_object_carries_the_standard_labels(objects):
    for o in objects:
        labels = o["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
            "app.kubernetes.io/component",
        ):
            assert key in labels, f"{o['kind']}/{o['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/instance"] == "shop"


def test_pod_templates_carry_no_label_that_changes_with_the_chart_version(objects):
    # A chart bump alone must not restart MariaDB or WordPress. (The helm-test pod is a bare pod
    # made anew on every test run: it keeps the standard labels.)
    for where, labels in pod_template_labels(objects).items():
        if where.startswith("Pod/"):
            continue
        assert "helm.sh/chart" not in labels and "app.kubernetes.io/version" not in labels, where
        assert labels["app.kubernetes.io/instance"] == "shop", where


def pod_template_labels(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    out = {}
    for o in objects:
        where = f"{o['kind']}/{o['metadata']['name']}"
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            out[where] = o["spec"]["template"]["metadata"]["labels"]
        elif o["kind"] == "CronJob":
            out[where] = o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        elif o["kind"] == "Pod":
            out[where] = o["metadata"]["labels"]
    return out


def _metadata_values(tree: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) of labels, annotations and matchLabels anywhere in an object."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in ("labels", "annotations", "matchLabels") and isinstance(value, dict):
                found += [(f"{path}.{key}.{k}", v) for k, v in value.items()]
            found += _metadata_values(value, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            found += _metadata_values(item, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("release", ["1234", "12e4", "0x1f", "true", "1e3-shop"])
def test_label_and_annotation_values_stay_strings_whatever_the_release_name(release: str):
    # YAML reads an unquoted 1234, 12e4 or true as a number or a boolean, which the API server
    # refuses for a label or annotation ("expected string"): every value built from data is quoted.
    objects = render(files=(VALUES_DIR / "stores-prod.yaml",), release=release)
    for o in objects:
        for path, value in _metadata_values(o):
            assert isinstance(value, str), f"{o['kind']}/{o['metadata']['name']}{path} = {value!r}"


def test_every_pod_is_restricted_non_root_without_token(objects):
    specs = pod_specs(objects)
    assert set(specs) == {
        "Deployment/shop-wordpress",
        "StatefulSet/shop-mariadb",
        "Job/shop-setup-r1",
        "CronJob/shop-cron",
        "Pod/shop-order-test",
    }
    for where, spec in specs.items():
        assert spec["automountServiceAccountToken"] is False, where
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, where
        assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert "hostNetwork" not in spec and "hostPID" not in spec, where
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "persistentVolumeClaim"}, (
                where
            )


def test_every_container_has_the_security_context_and_resources(objects):
    for where, spec in pod_specs(objects).items():
        for c in containers(spec):
            ctx = c["securityContext"]
            name = f"{where}/{c['name']}"
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) >= {"cpu", "memory"}, f"{name} {kind}"
            assert not c["image"].endswith(":latest") and (":" in c["image"] or "@" in c["image"]), name


def test_wordpress_runs_as_www_data_on_an_unprivileged_port(objects):
    deployment = one(objects, "Deployment", "shop-wordpress")
    wordpress = deployment["spec"]["template"]["spec"]["containers"][0]
    assert wordpress["securityContext"]["runAsUser"] == 33
    assert wordpress["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    apache = one(objects, "ConfigMap", "shop-apache")["data"]
    assert "Listen 8080" in apache["ports.conf"]
    assert "<VirtualHost *:8080>" in apache["000-default.conf"]
    # Recreate: the ReadWriteOnce volume cannot be mounted by an old and a new pod on two nodes.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_wordpress_stops_gracefully_and_its_readiness_needs_no_redirect(objects):
    pod = one(objects, "Deployment", "shop-wordpress")["spec"]["template"]["spec"]
    wordpress = pod["containers"][0]
    # The installer page answers 200 before and after install; other pages redirect before it.
    assert wordpress["readinessProbe"]["httpGet"]["path"] == "/wp-admin/install.php"
    stop = wordpress["lifecycle"]["preStop"]["exec"]["command"]
    assert stop[:2] == ["/bin/sh", "-c"] and "apache2ctl -k graceful-stop" in stop[2]
    assert "GracefulShutdownTimeout 25" in one(objects, "ConfigMap", "shop-apache")["data"]["ports.conf"]
    # Grace: the 5 s pause before the stop, then Apache's own 25 s, with room to spare.
    assert pod["terminationGracePeriodSeconds"] == 40


def test_uploads_are_allowed_by_php_and_by_ingress_nginx():
    objects = render(
        files=(VALUES_DIR / "stores-kind.yaml",), values={"wordpress": {"uploadMaxSize": "128M"}}
    )
    php = one(objects, "ConfigMap", "shop-apache")["data"]["php.ini"]
    assert "upload_max_filesize = 128M" in php and "post_max_size = 128M" in php
    mounts = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    ini = "/usr/local/etc/php/conf.d/zz-storeplane.ini"
    assert {"name": "apache", "mountPath": ini, "subPath": "php.ini", "readOnly": True} in mounts
    annotations = one(objects, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "128m"
    # Traefik sets no body limit: no annotation there.
    traefik = one(render(files=(VALUES_DIR / "stores-local.yaml",)), "Ingress")["metadata"]
    assert "nginx.ingress.kubernetes.io/proxy-body-size" not in traefik.get("annotations", {})


def test_mariadb_is_governed_by_a_headless_service(objects):
    sts = one(objects, "StatefulSet", "shop-mariadb")
    headless = one(objects, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["metadata"]["name"] == "shop-mariadb-headless"
    # WordPress keeps talking to the ClusterIP Service.
    assert one(objects, "Service", "shop-mariadb")["spec"]["type"] == "ClusterIP"


def test_volumes_record_the_size_and_class_as_given(objects):
    # The API server rewrites quantities; the chart compares a change with these (lookup, tested
    # on the simulated cluster in tests/cluster/chart).
    sts = one(objects, "StatefulSet", "shop-mariadb")["metadata"]["annotations"]
    pvc = one(objects, "PersistentVolumeClaim", "shop-wordpress")["metadata"]["annotations"]
    for recorded in (sts, pvc):
        assert recorded == {"storeplane.io/volume-size": "1Gi", "storeplane.io/storage-class": ""}


def test_wp_cron_runs_in_the_cluster_not_through_the_public_url(objects):
    cron = one(objects, "CronJob", "shop-cron")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["successfulJobsHistoryLimit"] == 0  # a finished pod would hold the content claim
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    container = pod["containers"][0]
    assert container["command"] == ["bash", "/scripts/cron.sh"]
    assert {"name": "content", "mountPath": "/var/www/html"} in container["volumeMounts"]
    for where in ("Deployment/shop-wordpress", "Job/shop-setup-r1", "CronJob/shop-cron"):
        env = {e["name"]: e.get("value") for e in pod_specs(objects)[where]["containers"][0]["env"]}
        assert "define('DISABLE_WP_CRON', true);" in env["WORDPRESS_CONFIG_EXTRA"], where
    assert by_kind(render({"cron": {"enabled": False}}), "CronJob") == []


def test_every_long_running_container_has_readiness_and_liveness_probes(objects):
    long_running = [o for o in objects if o["kind"] in LONG_RUNNING]
    assert len(long_running) == 2
    for o in long_running:
        for c in containers(o["spec"]["template"]["spec"]):
            assert "readinessProbe" in c and "livenessProbe" in c, f"{o['metadata']['name']}/{c['name']}"


def test_database_probes_query_the_server(objects):
    mariadb = one(objects, "StatefulSet", "shop-mariadb")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert mariadb[probe]["exec"]["command"] == ["healthcheck.sh", "--connect", "--innodb_initialized"]


def test_database_volume_is_sized_from_values_and_deleted_with_the_statefulset():
    objects = render({"mariadb": {"persistence": {"size": "3Gi", "storageClassName": "fast"}}})
    sts = one(objects, "StatefulSet", "shop-mariadb")["spec"]
    claim = sts["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "3Gi"
    assert claim["storageClassName"] == "fast"
    assert sts["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"


def test_passwords_come_from_the_generated_secret_never_from_values(objects):
    secret = one(objects, "Secret", "shop-credentials")
    assert set(secret["data"]) >= {"mariadb-root-password", "mariadb-password", "admin-password"}
    for values_file in (CHART / "values.yaml", *ENVIRONMENTS, *SCENARIOS):
        keys = _keys(yaml.safe_load(values_file.read_text()))
        assert not [k for k in keys if "password" in k.lower() or "secret" in k.lower()], values_file
    for where, spec in pod_specs(objects).items():
        for c in containers(spec):
            for env in c.get("env", []):
                if "PASSWORD" in env["name"]:
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "shop-credentials", where


def _keys(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [k for key, value in tree.items() for k in (key, *_keys(value))]
    if isinstance(tree, list):
        return [k for item in tree for k in _keys(item)]
    return []


def test_each_render_without_a_cluster_generates_fresh_credentials():
    # With a cluster, lookup returns the live Secret instead (proven in tests/cluster/chart).
    first = one(render(), "Secret")["data"]
    second = one(render(), "Secret")["data"]
    assert all(first[key] != second[key] for key in first)


def test_setup_is_a_bounded_plain_job_per_revision_next_to_wordpress(objects):
    # Not a hook: helm would wait for it (a helm process and a worker slot for the whole set-up).
    job = one(objects, "Job", "shop-setup-r1")
    assert "helm.sh/hook" not in (job["metadata"].get("annotations") or {})
    assert "ttlSecondsAfterFinished" not in job["spec"]  # kept until the next revision replaces it
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["activeDeadlineSeconds"] == 900  # the platform passes one below helm's timeout
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["WC_VERSION"]["value"] == "11.0.1"
    assert env["WP_CORE_VERSION"]["value"] == "7.1.0"  # setup.sh compares it as WordPress's "7.1"
    assert env["STORE_URL"]["value"] == "http://shop.localhost"
    assert env["ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "admin-password"


def test_order_test_is_a_helm_test_pod_against_the_web_service(objects):
    pod = one(objects, "Pod", "shop-order-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["STORE_URL"] == "http://shop-wordpress"
    assert env["STORE_HOST"] == "shop.localhost"
    assert pod["spec"]["restartPolicy"] == "Never"


def test_the_scripts_in_the_configmap_are_the_files_under_files(objects):
    data = one(objects, "ConfigMap", "shop-scripts")["data"]
    for name in ("setup.sh", "cron.sh", "order-test.sh"):
        assert data[name] == (CHART / "files" / "woocommerce" / name).read_text()


def test_host_defaults_to_release_dot_base_domain_and_can_be_overridden():
    ingress = one(render({"baseDomain": "stores.test"}, release="alpha"), "Ingress")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["alpha.stores.test"]
    ingress = one(render({"host": "shop.example.org", "ingress": {"className": "traefik"}}), "Ingress")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["shop.example.org"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert "tls" not in ingress["spec"]


def test_each_host_has_its_own_ingress_and_certificate_and_all_but_the_primary_redirect():
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text())
    objects = render(values, release="alpha")
    by_host = {i["spec"]["rules"][0]["host"]: i for i in by_kind(objects, "Ingress")}
    assert sorted(by_host) == ["alpha.stores.example.net", "shop.example.org", "www.example.org"]
    secrets = set()
    for host, ingress in by_host.items():
        (rule,) = ingress["spec"]["rules"]
        (tls,) = ingress["spec"]["tls"]  # one certificate per host: a host with wrong DNS fails alone
        assert tls["hosts"] == [host] and tls["secretName"] not in secrets
        secrets.add(tls["secretName"])
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
        assert ingress["metadata"]["annotations"]["storeplane.io/host"] == host
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {
            "name": "alpha-wordpress" if host == "www.example.org" else "alpha-redirect",
            "port": {"name": "http"},
        }
    # The store's own host keeps the names it had before linked domains existed.
    assert by_host["alpha.stores.example.net"]["metadata"]["name"] == "alpha-web"
    assert by_host["alpha.stores.example.net"]["spec"]["tls"][0]["secretName"] == "alpha-tls"
    setup_env = {
        e["name"]: e.get("value") for e in pod_specs(objects)["Job/alpha-setup-r1"]["containers"][0]["env"]
    }
    assert setup_env["STORE_URL"] == "https://www.example.org"  # WordPress's home follows the primary
    wp_config = next(
        e["value"]
        for e in pod_specs(objects)["Deployment/alpha-wordpress"]["containers"][0]["env"]
        if e["name"] == "WORDPRESS_CONFIG_EXTRA"
    )
    assert "define('WP_HOME', 'https://www.example.org');" in wp_config
    assert "define('WP_SITEURL', 'https://www.example.org');" in wp_config


def test_a_hosts_ingress_and_certificate_keep_their_names_whichever_host_is_primary():
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text())
    names = {}
    for primary in ("", "shop.example.org", "www.example.org"):
        objects = render(values | {"primaryHost": primary}, release="alpha")
        names[primary] = sorted(
            (i["spec"]["rules"][0]["host"], i["metadata"]["name"], i["spec"]["tls"][0]["secretName"])
            for i in by_kind(objects, "Ingress")
        )
    assert names[""] == names["shop.example.org"] == names["www.example.org"]


def test_the_redirect_server_answers_301_to_the_primary_host_with_the_path_and_is_locked_down():
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text())
    objects = render(values, release="alpha")
    conf = one(objects, "ConfigMap", "alpha-redirect")["data"]["nginx.conf"]
    assert "return 301 https://www.example.org$request_uri;" in conf
    assert "listen 8080 default_server;" in conf and "pid /tmp/nginx.pid;" in conf
    deployment = one(objects, "Deployment", "alpha-redirect")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "nginxinc/nginx-unprivileged:1.28.0-alpine-slim"
    assert container["command"][:3] == ["nginx", "-c", "/etc/storeplane/nginx.conf"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == 101 and spec["automountServiceAccountToken"] is False
    service = one(objects, "Service", "alpha-redirect")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "redirect"
    policy = one(objects, "NetworkPolicy", "alpha-redirect")["spec"]
    assert policy["egress"] == [] and policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    # A store with one host has no redirect server at all.
    plain = render(release="alpha")
    assert [o for o in plain if o["metadata"]["name"] == "alpha-redirect"] == []


def test_a_primary_host_that_is_not_one_of_the_stores_hosts_is_refused():
    message = render_error({"primaryHost": "elsewhere.example.org"})
    assert 'primaryHost "elsewhere.example.org" is not one of the store\'s hosts' in message


def test_the_ingress_can_be_turned_off():
    assert by_kind(render({"ingress": {"enabled": False}}), "Ingress") == []


# --- guardrails ----------------------------------------------------------------------------------


def workload_budget(objects: list[dict[str, Any]]) -> dict[str, Decimal]:
    """What the store needs at its peak: database, two web pods (an update that overlaps), the
    setup Job and the test pod all at once."""
    specs = pod_specs(objects)
    copies = {
        "Deployment/shop-wordpress": 2,
        "StatefulSet/shop-mariadb": 1,
        "Job/shop-setup-r1": 1,
        "CronJob/shop-cron": 1,  # concurrencyPolicy Forbid: one run at a time
        "Pod/shop-order-test": 1,
        "Deployment/shop-redirect": 1,  # maxSurge 0: never two at once
    }
    total = {
        "requests.cpu": Decimal(0),
        "requests.memory": Decimal(0),
        "limits.cpu": Decimal(0),
        "limits.memory": Decimal(0),
        "pods": Decimal(0),
    }
    for where, spec in specs.items():
        n = copies[where]
        total["pods"] += n
        for c in containers(spec):
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    total[f"{kind}.{res}"] += n * quantity(c["resources"][kind][res])
    # cert-manager's HTTP-01 solvers while TLS is on: one pod per host, with its own resources.
    ingress = by_kind(objects, "Ingress")
    if ingress and ingress[0]["spec"].get("tls"):
        solvers = sum(len(i["spec"]["rules"]) for i in ingress)
        solver = yaml.safe_load((CHART / "values.yaml").read_text())["tls"]["acmeSolver"]["resources"]
        total["pods"] += solvers
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                total[f"{kind}.{res}"] += solvers * quantity(solver[kind][res])
    return total


@pytest.mark.parametrize("values_file", [*ENVIRONMENTS, *SCENARIOS], ids=lambda p: p.name)
def test_peak_usage_fits_inside_the_quota_and_every_container_inside_the_limit_range(values_file: Path):
    objects = render(files=(values_file,))
    hard = one(objects, "ResourceQuota")["spec"]["hard"]
    for key, needed in workload_budget(objects).items():
        assert needed <= quantity(hard[key]), f"{key}: peak {needed} > quota {hard[key]}"
    limits = one(objects, "LimitRange")["spec"]["limits"]
    container_max = next(item["max"] for item in limits if item["type"] == "Container")
    claim_max = quantity(
        next(item["max"]["storage"] for item in limits if item["type"] == "PersistentVolumeClaim")
    )
    for where, spec in pod_specs(objects).items():
        for c in containers(spec):
            for res in ("cpu", "memory"):
                assert quantity(c["resources"]["limits"][res]) <= quantity(container_max[res]), where
    claims = [o["spec"] for o in by_kind(objects, "PersistentVolumeClaim")]
    claims += [t["spec"] for t in one(objects, "StatefulSet")["spec"]["volumeClaimTemplates"]]
    sizes = [quantity(c["resources"]["requests"]["storage"]) for c in claims]
    assert len(sizes) == 2
    assert all(size <= claim_max for size in sizes)
    assert sum(sizes) <= quantity(hard["requests.storage"])
    assert len(sizes) <= int(hard["persistentvolumeclaims"])


def test_the_quota_makes_room_for_one_acme_solver_pod_and_service_per_host_and_the_redirect():
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text())
    for extra in ([], ["a.example.org", "b.example.org", "c.example.org"]):  # up to 6 hosts
        hosts_values = values | {
            "ingress": values["ingress"] | {"extraHosts": values["ingress"]["extraHosts"] + extra}
        }
        objects = render(hosts_values, release="alpha")
        hard = one(objects, "ResourceQuota")["spec"]["hard"]
        hosts = len(by_kind(objects, "Ingress"))
        assert hosts == 3 + len(extra)
        services = len(by_kind(objects, "Service"))
        assert (int(hard["pods"]), int(hard["services"])) == (8 + hosts + 1, 4 + hosts + 1)
        assert services + hosts <= int(hard["services"])
    plain = one(render(), "ResourceQuota")["spec"]["hard"]
    assert (plain["pods"], plain["services"]) == ("8", "4")


def test_quota_covers_every_kind_the_issue_names(objects):
    hard = one(objects, "ResourceQuota")["spec"]["hard"]
    assert set(hard) == {
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
        "pods",
        "services",
        "persistentvolumeclaims",
        "requests.storage",
    }
    limits = {item["type"]: item for item in one(objects, "LimitRange")["spec"]["limits"]}
    assert set(limits["Container"]) == {"type", "default", "defaultRequest", "max"}
    assert "storage" in limits["PersistentVolumeClaim"]["max"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def allowed_flows(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(from, to, port) edges the NetworkPolicies allow, both sides of each edge required.
    Pods are named by component; 'dns', 'ingress-controller' and 'internet' are outside peers."""
    pods = {labels["app.kubernetes.io/component"]: labels for labels in pod_template_labels(objects).values()}
    pods["acme-solver"] = {"acme.cert-manager.io/http01-solver": "true"}  # cert-manager's, with TLS
    policies = [o["spec"] for o in by_kind(objects, "NetworkPolicy")]

    def peer_name(peer: dict[str, Any]) -> str | None:
        if "ipBlock" in peer:
            return "internet"
        if "namespaceSelector" in peer:
            is_dns = peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns"
            return "dns" if is_dns else "ingress-controller"
        return next((name for name, labels in pods.items() if _selects(peer["podSelector"], labels)), None)

    egress: set[tuple[str, str, str]] = set()
    ingress: set[tuple[str, str, str]] = set()
    for policy in policies:
        targets = [name for name, labels in pods.items() if _selects(policy["podSelector"], labels)]
        for rule in policy.get("egress", []):
            for peer in rule.get("to", []):
                for port in rule.get("ports", []):
                    egress |= {(t, peer_name(peer), str(port["port"])) for t in targets}
        for rule in policy.get("ingress", []):
            for peer in rule.get("from", []):
                for port in rule.get("ports", []):
                    ingress |= {(peer_name(peer), t, str(port["port"])) for t in targets}
    flows = set()
    for src, dst, port in egress:
        if dst in pods:  # in-namespace: the destination must admit it too
            if (src, dst, port) in ingress:
                flows.add((src, dst, port))
        else:
            flows.add((src, dst, port))
    flows |= {(src, dst, port) for src, dst, port in ingress if src not in pods}
    return flows


def test_network_policies_deny_by_default_and_allow_exactly_the_store_flows(objects):
    default_deny = one(objects, "NetworkPolicy", "shop-default-deny")["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    components = ("web", "database", "setup", "cron", "order-test", "acme-solver")
    dns = {(c, "dns", port) for c in components for port in ("53",)}
    assert allowed_flows(objects) == dns | {
        ("ingress-controller", "web", "8080"),
        ("order-test", "web", "8080"),
        ("order-test", "ingress-controller", "8000"),
        ("order-test", "ingress-controller", "8443"),
        ("web", "database", "3306"),
        ("setup", "database", "3306"),
        ("cron", "database", "3306"),
        ("setup", "internet", "80"),
        ("setup", "internet", "443"),
    }


def test_with_tls_the_ingress_controller_reaches_the_acme_solver_and_nothing_else_does():
    objects = render(files=(VALUES_DIR / "stores-prod.yaml",))
    solver = one(objects, "NetworkPolicy", "shop-acme-solver")["spec"]
    assert solver["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert solver["egress"] == []
    flows = {f for f in allowed_flows(objects) if f[1] == "acme-solver"}
    assert flows == {("ingress-controller", "acme-solver", "8089")}
    assert [p["podSelector"]["matchLabels"] for p in solver["ingress"][0]["from"]] == [
        {"app.kubernetes.io/name": "traefik"}
    ]
    local = by_kind(render(files=(VALUES_DIR / "stores-local.yaml",)), "NetworkPolicy")
    assert "shop-acme-solver" not in [o["metadata"]["name"] for o in local]  # no TLS, no solver


def test_internet_egress_of_the_setup_job_excludes_cluster_and_metadata_ranges(objects):
    setup = one(objects, "NetworkPolicy", "shop-setup")["spec"]
    block = next(peer["ipBlock"] for rule in setup["egress"] for peer in rule["to"] if "ipBlock" in peer)
    assert block["cidr"] == "0.0.0.0/0"
    assert set(block["except"]) >= {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}


@pytest.mark.parametrize(
    ("values_file", "peer", "ports", "service"),
    [
        ("stores-local.yaml", {"app.kubernetes.io/name": "traefik"}, [8000, 8443], "traefik.kube-system"),
        (
            "stores-kind.yaml",
            {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
            [80, 443],
            "ingress-nginx-controller.ingress-nginx",
        ),
    ],
)
def test_each_local_profile_names_its_own_controller_whole(values_file, peer, ports, service):
    objects = render(files=(VALUES_DIR / values_file,))
    web_from = one(objects, "NetworkPolicy", "shop-web")["spec"]["ingress"][0]["from"]
    # The profile's peer list replaces the chart's: exactly one controller peer, nothing merged.
    controller = [p for p in web_from if "namespaceSelector" in p]
    assert [p["podSelector"]["matchLabels"] for p in controller] == [peer]
    order_test = one(objects, "NetworkPolicy", "shop-order-test")["spec"]["egress"]
    assert [p["port"] for p in order_test[1]["ports"]] == ports
    env = {
        e["name"]: e["value"] for e in one(objects, "Pod", "shop-order-test")["spec"]["containers"][0]["env"]
    }
    assert env["INGRESS_SERVICE"] == f"{service}.svc.cluster.local"
    assert env["STORE_PUBLIC_URL"] == "http://shop.localhost"
    assert one(objects, "Ingress")["spec"]["ingressClassName"] == (
        "nginx" if "kind" in values_file else "traefik"
    )


def test_prod_environment_admits_only_traefik_and_serves_https():
    objects = render(files=(VALUES_DIR / "stores-prod.yaml",))
    web = one(objects, "NetworkPolicy", "shop-web")["spec"]["ingress"][0]["from"][0]
    assert web["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert web["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "traefik"}
    ingress = one(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"][0]["hosts"] == ["shop.stores.example.com"]


def test_the_readme_documents_every_value():
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def leaves(tree: dict[str, Any], prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value and key not in ("podSelector", "namespaceSelector"):
                out += leaves(value, f"{path}.")
            else:
                out.append(path)
        return out

    missing = [path for path in leaves(defaults) if f"| `{path}` |" not in readme]
    assert missing == [], f"README.md lacks: {missing}"
