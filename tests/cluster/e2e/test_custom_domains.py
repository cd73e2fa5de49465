"""Linked domains through the whole platform on the simulated cluster: DNS on 127.0.0.1, the API,
embedded workers, real helm and the real store chart with TLS on.

Proven here: the Ingress and certificate per host, the redirect server for every host but the
primary, WordPress's home URL following the primary, the HTTP-01 solver policy and a quota that
admits one solver per host, make-primary then rollback restoring the old primary (in the cluster and
in the store's data), and delete freeing the domains. Not here: that a controller routes, that
nginx answers (tests/native does that with Debian's nginx) or that cert-manager issues.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from app.simcluster.client import ClusterClient, CommandFailed
from tests.cluster.e2e.platform import (
    LOCAL_STORE_VALUES,
    Platform,
    platform_settings,
    running_platform,
    until,
)
from tests.dns_server import Zone, dns_server

INGRESS = "ingress.example.net"
SHOP, WWW = "shop.example.org", "www.example.org"


@pytest.fixture
def platform(cluster: ClusterClient, tmp_path: Path) -> Iterator[tuple[Platform, Zone]]:
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values["tls"] = {**values.get("tls", {}), "enabled": True, "clusterIssuer": "letsencrypt-staging"}
    store_values = tmp_path / "stores-tls.yaml"
    store_values.write_text(yaml.safe_dump(values))
    with dns_server() as (zone, resolver):
        settings = platform_settings(
            cluster,
            tmp_path,
            store_values_file=str(store_values),
            public_ingress_host=INGRESS,
            dns_resolvers=resolver,
            dns_timeout_seconds=2.0,
        )
        with running_platform(cluster, settings) as p:
            yield p, zone


def _link(p: Platform, zone: Zone, sid: str, name: str) -> None:
    added = p.post(f"/stores/{sid}/domains", {"domain": name})
    assert added.status_code == 201, added.text
    zone.set(f"_storeplane.{name}", "TXT", added.json()["records"][0]["value"])
    zone.set(name, "CNAME", INGRESS)
    checked = p.post(f"/stores/{sid}/domains/{name}/check")
    assert checked.json()["state"] == "verified", checked.text


def _settled(p: Platform, sid: str, want: dict[str, str]) -> None:
    """Wait until the store is Ready and its domains are in the wanted states."""

    def done() -> bool:
        states = {d["domain"]: d["state"] for d in p.get(f"/stores/{sid}/domains").json()}
        return p.store(sid)["status"] == "ready" and all(states.get(k) == v for k, v in want.items())

    until(done, limit=300, what=lambda: f"domains {want}; events: {p.events(sid)[-8:]}")


def _ingresses(cluster: ClusterClient, ns: str) -> dict[str, dict]:
    items = cluster.kubectl_json("get", "ingress", "-n", ns)["items"]
    return {i["spec"]["rules"][0]["host"]: i for i in items}


def _backend(ingress: dict) -> str:
    return ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]


def _redirect_target(cluster: ClusterClient, ns: str, release: str) -> str:
    conf = cluster.kubectl_json("get", "configmap", f"{release}-redirect", "-n", ns)["data"]["nginx.conf"]
    return next(line.strip() for line in conf.splitlines() if "return 301" in line)


def _wp_home(cluster: ClusterClient, ns: str, release: str) -> str:
    deployment = cluster.kubectl_json("get", "deployment", f"{release}-wordpress", "-n", ns)
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    extra = next(e["value"] for e in env if e["name"] == "WORDPRESS_CONFIG_EXTRA")
    return next(line.strip() for line in extra.splitlines() if "WP_HOME" in line)


def test_linked_domains_are_served_redirected_made_primary_rolled_back_and_freed(platform) -> None:
    p, zone = platform
    cluster = p.cluster
    created = p.post("/stores", {"name": "linked", "engine": "woocommerce"})
    sid, ns = created.json()["id"], created.json()["namespace"]
    assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)
    own = "linked.localhost"

    _link(p, zone, sid, SHOP)
    _link(p, zone, sid, WWW)
    _settled(p, sid, {SHOP: "active", WWW: "active"})

    # One Ingress and one certificate per host; every host but the primary goes to the redirect.
    ingresses = _ingresses(cluster, ns)
    assert sorted(ingresses) == sorted([own, SHOP, WWW])
    secrets = [i["spec"]["tls"][0]["secretName"] for i in ingresses.values()]
    assert all(
        len(i["spec"]["tls"]) == 1 and i["spec"]["tls"][0]["hosts"] == [h] for h, i in ingresses.items()
    )
    assert len(set(secrets)) == 3
    assert {h: _backend(i) for h, i in ingresses.items()} == {
        own: "linked-wordpress",
        SHOP: "linked-redirect",
        WWW: "linked-redirect",
    }
    assert _redirect_target(cluster, ns, "linked") == "return 301 https://linked.localhost$request_uri;"
    redirect = cluster.kubectl_json("get", "deployment", "linked-redirect", "-n", ns)
    assert redirect["status"].get("readyReplicas") == 1  # admitted by Pod Security restricted

    # The HTTP-01 solver policy selects cert-manager's solver pods; the quota admits one per host.
    policy = cluster.kubectl_json("get", "networkpolicy", "linked-acme-solver", "-n", ns)["spec"]
    assert policy["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    hard = cluster.kubectl_json("get", "resourcequota", "linked-quota", "-n", ns)["spec"]["hard"]
    assert (hard["pods"], hard["services"]) == (str(8 + 3 + 1), str(4 + 3 + 1))
    for n in range(3):
        _solver(cluster, ns, f"cm-acme-http-solver-{n}")

    # Make www primary: WordPress's home follows, the store's own host now redirects.
    made = p.post(f"/stores/{sid}/domains/{WWW}/primary")
    assert made.status_code == 202, made.text
    scheme = p.settings.store_url_scheme  # the platform's own setting; the store's links follow the primary
    until(
        lambda: p.store(sid)["urls"]["storefront"] == f"{scheme}://{WWW}/" or None,
        limit=300,
        what=lambda: str(p.events(sid)[-6:]),
    )
    before = p.store(sid)["helm_revision"]
    assert _wp_home(cluster, ns, "linked") == f"define('WP_HOME', 'https://{WWW}');"
    assert _redirect_target(cluster, ns, "linked") == f"return 301 https://{WWW}$request_uri;"
    assert {h: _backend(i) for h, i in _ingresses(cluster, ns).items()}[WWW] == "linked-wordpress"
    assert {h: _backend(i) for h, i in _ingresses(cluster, ns).items()}[own] == "linked-redirect"

    # Roll back to the revision before: the old primary is back, in the cluster and in the store's data.
    rolled = p.post(f"/stores/{sid}/rollback", {"revision": before - 1})
    assert rolled.status_code == 202, rolled.text
    until(
        lambda: p.store(sid)["helm_revision"] == before + 1 and p.store(sid)["status"] == "ready",
        limit=300,
        what=lambda: str(p.events(sid)[-6:]),
    )
    assert p.store(sid)["urls"]["storefront"] == f"{scheme}://{own}/"
    listed = {d["domain"]: (d["state"], d["primary"]) for d in p.get(f"/stores/{sid}/domains").json()}
    assert listed == {own: ("active", True), SHOP: ("active", False), WWW: ("active", False)}
    assert _wp_home(cluster, ns, "linked") == f"define('WP_HOME', 'https://{own}');"
    assert _redirect_target(cluster, ns, "linked") == f"return 301 https://{own}$request_uri;"

    # Deleting the store frees its domains: another store may link and prove them at once.
    assert p.delete(f"/stores/{sid}").status_code == 202
    assert p.wait_for(sid, "deleted", "failed")["status"] == "deleted"
    other = p.post("/stores", {"name": "other", "engine": "woocommerce"}).json()["id"]
    _link(p, zone, other, WWW)


def _solver(cluster: ClusterClient, ns: str, name: str) -> None:
    """What cert-manager creates for one host's HTTP-01 challenge: a solver pod and its Service."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"acme.cert-manager.io/http01-solver": "true"}},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}
            },
            "containers": [{
                "name": "acmesolver",
                "image": "quay.io/jetstack/cert-manager-acmesolver:v1.18.2",
                "ports": [{"containerPort": 8089}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "resources": {
                    "requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}
                },
            }],
        },
    }  # fmt: skip
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"acme.cert-manager.io/http01-solver": "true"},
                 "ports": [{"port": 8089, "targetPort": 8089}]},
    }  # fmt: skip
    for manifest in (pod, service):
        try:
            cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(manifest))
        except CommandFailed as exc:  # the quota or admission refused it: say which
            raise AssertionError(f"{manifest['kind']} {name} refused: {exc.stderr}") from exc
