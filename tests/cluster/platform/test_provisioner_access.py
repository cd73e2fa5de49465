"""The provisioner's least privilege, proven with its own ServiceAccount token: what RBAC grants,
what the ValidatingAdmissionPolicy fences, and Helm installing the real store chart as it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml

from app import errors
from app.kube import Kube
from app.kube.access import BINDING_NAME
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.platform.conftest import Run
from tests.cluster.platform.platform_cluster import Platform
from tests.unit.platform.platform_render import ROOT

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# What app/kube/namespaces.py puts on every store namespace (the policy requires both).
MANAGED = {"app.kubernetes.io/managed-by": "storeplane", **RESTRICTED}


def namespace_manifest(name: str, labels: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


def store_name() -> str:
    return f"store-t{secrets.token_hex(4)}"


def create_store_namespace(run: Run, cleanup: list[str], labels: dict[str, str] | None = None) -> str:
    name = store_name()
    cleanup.append(name)
    done = run("create", "-f", "-", input=namespace_manifest(name, {**MANAGED, **(labels or {})}))
    assert done.returncode == 0, done.stderr
    return name


def bind_store_manager(
    run: Run, platform: Platform, namespace: str, *, role: str | None = None, subject: str | None = None
):
    return run(
        "create",
        "rolebinding",
        BINDING_NAME,
        "-n",
        namespace,
        f"--clusterrole={role or platform.store_manager}",
        f"--serviceaccount={subject or f'{platform.namespace}:{platform.service_account}'}",
    )


def assert_fenced(done, platform: Platform, why: str) -> None:
    assert done.returncode != 0, f"the provisioner was allowed: {done.stdout}"
    assert f"ValidatingAdmissionPolicy '{platform.policy}'" in done.stderr, done.stderr
    assert why in done.stderr, done.stderr


# --- namespaces -----------------------------------------------------------------------------------


def test_provisioner_creates_a_namespace_labelled_as_managed(
    provisioner_kubectl: Run, cleanup_namespaces, cluster
):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    labels = cluster.kubectl_json("get", "namespace", name)["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "storeplane"


def test_provisioner_cannot_create_an_unlabelled_namespace(
    provisioner_kubectl: Run, platform, cleanup_namespaces, cluster
):
    name = store_name()
    cleanup_namespaces.append(name)
    done = provisioner_kubectl("create", "namespace", name)
    assert_fenced(
        done,
        platform,
        "may create only namespaces named store-* and labelled app.kubernetes.io/managed-by=storeplane; "
        f"namespace {name} is not one",
    )
    assert cluster.kubectl("get", "namespace", name, "--ignore-not-found").strip() == ""


def test_provisioner_cannot_create_a_labelled_namespace_outside_the_store_prefix(
    provisioner_kubectl: Run, platform, cleanup_namespaces
):
    name = f"kube-t{secrets.token_hex(4)}"
    cleanup_namespaces.append(name)
    done = provisioner_kubectl("create", "-f", "-", input=namespace_manifest(name, MANAGED))
    assert_fenced(done, platform, f"namespace {name} is not one")


def test_provisioner_cannot_adopt_a_namespace_by_labelling_it(
    provisioner_kubectl: Run, platform, namespace, cluster
):
    done = provisioner_kubectl("label", "namespace", namespace, "app.kubernetes.io/managed-by=storeplane")
    assert_fenced(done, platform, "(before and after the change)")
    assert "app.kubernetes.io/managed-by" not in cluster.kubectl_json("get", "namespace", namespace)[
        "metadata"
    ].get("labels", {})


@pytest.mark.parametrize("enforce", [None, "privileged"])
def test_provisioner_cannot_create_a_store_namespace_without_pod_security(
    provisioner_kubectl: Run, platform, cleanup_namespaces, enforce
):
    name = store_name()
    cleanup_namespaces.append(name)
    labels = {"app.kubernetes.io/managed-by": "storeplane"}
    if enforce:
        labels["pod-security.kubernetes.io/enforce"] = enforce
    done = provisioner_kubectl("create", "-f", "-", input=namespace_manifest(name, labels))
    assert_fenced(done, platform, "it enforces Pod Security restricted or baseline")


def test_provisioner_cannot_lift_pod_security_from_a_store_namespace(
    provisioner_kubectl: Run, platform, cleanup_namespaces
):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    done = provisioner_kubectl(
        "label", "namespace", name, "pod-security.kubernetes.io/enforce=privileged", "--overwrite"
    )
    assert_fenced(done, platform, f"namespace {name} does not")


def test_provisioner_cannot_delete_a_namespace_it_does_not_manage(
    provisioner_kubectl: Run, platform, namespace, cluster
):
    done = provisioner_kubectl("delete", "namespace", namespace, "--wait=false")
    assert_fenced(done, platform, "may delete only namespaces named store-*")
    assert cluster.kubectl_json("get", "namespace", namespace)["status"]["phase"] == "Active"


def test_provisioner_deletes_its_store_namespace(provisioner_kubectl: Run, cleanup_namespaces, cluster):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    done = provisioner_kubectl("delete", "namespace", name, "--wait=false")
    assert done.returncode == 0, done.stderr
    assert cluster.kubectl_json("get", "namespace", name)["status"]["phase"] == "Terminating"


# --- the per-namespace RoleBinding ----------------------------------------------------------------


def test_store_rights_come_only_from_the_binding_in_the_store_namespace(
    provisioner_kubectl: Run, platform, cleanup_namespaces
):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    before = provisioner_kubectl("create", "secret", "generic", "db", "-n", name, "--from-literal=k=v")
    assert before.returncode != 0 and 'cannot create resource "secrets"' in before.stderr, before.stderr

    bound = bind_store_manager(provisioner_kubectl, platform, name)
    assert bound.returncode == 0, bound.stderr

    secret = provisioner_kubectl("create", "secret", "generic", "db", "-n", name, "--from-literal=k=v")
    assert secret.returncode == 0, secret.stderr
    deployment = provisioner_kubectl(
        "create", "deployment", "web", "-n", name, "--image=registry.k8s.io/pause:3.10"
    )
    assert deployment.returncode == 0, deployment.stderr
    read = provisioner_kubectl("get", "secret", "db", "-n", name, "-o", "jsonpath={.data.k}")
    assert read.returncode == 0 and read.stdout == "dg=="


@pytest.mark.parametrize("where", ["default", "kube-system", "unmanaged"])
def test_binding_is_refused_outside_store_namespaces(provisioner_kubectl: Run, platform, namespace, where):
    target = namespace if where == "unmanaged" else where
    done = bind_store_manager(provisioner_kubectl, platform, target)
    assert_fenced(
        done, platform, f"may manage RoleBindings only in Storeplane store namespaces; {target} is not one"
    )


def test_binding_another_role_is_refused(provisioner_kubectl: Run, platform, cleanup_namespaces):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    done = bind_store_manager(provisioner_kubectl, platform, name, role="view")
    # RBAC refuses first (no `bind` on view, and the provisioner does not hold view's rights).
    assert done.returncode != 0
    assert "forbidden" in done.stderr, done.stderr


def test_binding_the_store_manager_to_someone_else_is_refused(
    provisioner_kubectl: Run, platform, cleanup_namespaces, cluster
):
    name = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    done = bind_store_manager(provisioner_kubectl, platform, name, subject=f"{name}:default")
    # RBAC would allow this (`bind` on store-manager); only the policy stops it.
    assert_fenced(
        done, platform, f"may only bind ClusterRole {platform.store_manager} to its own ServiceAccount"
    )
    assert cluster.kubectl("get", "rolebindings", "-n", name, "-o", "name").strip() == ""


# --- what it can never read or touch --------------------------------------------------------------


def test_provisioner_cannot_read_secrets_outside_its_bound_store_namespaces(
    provisioner_kubectl: Run, namespace, cleanup_namespaces
):
    unbound_store = create_store_namespace(provisioner_kubectl, cleanup_namespaces)
    for where in ("kube-system", "default", namespace, unbound_store):
        done = provisioner_kubectl("get", "secrets", "-n", where)
        assert done.returncode != 0, where
        assert f'cannot list resource "secrets" in API group "" in the namespace "{where}"' in done.stderr


@pytest.mark.parametrize(
    ("verb", "allowed"),
    [
        (["create", "namespaces"], "yes"),
        (["delete", "namespaces"], "yes"),  # fenced by admission, which can-i does not evaluate
        (["get", "secrets", "-n", "kube-system"], "no"),
        (["create", "secrets", "-n", "default"], "no"),
        (["create", "deployments", "--all-namespaces"], "no"),
        (["create", "clusterrolebindings"], "no"),
        (["create", "roles", "-n", "default"], "no"),
        (["impersonate", "users"], "no"),
        (["create", "pods", "-n", "kube-system"], "no"),
    ],
)
def test_auth_can_i_as_the_provisioner(
    cluster: ClusterClient, platform: Platform, verb: list[str], allowed: str
):
    answer = cluster.kubectl("auth", "can-i", *verb, f"--as={platform.username}", check=False).strip()
    assert answer == allowed, f"can-i {' '.join(verb)}: {answer}"


def test_provisioner_may_bind_only_the_store_manager_role(cluster: ClusterClient, platform: Platform):
    ask = lambda role: cluster.kubectl(  # noqa: E731
        "auth", "can-i", "bind", f"clusterroles/{role}", f"--as={platform.username}", check=False
    ).strip()
    assert (ask(platform.store_manager), ask("cluster-admin"), ask("admin")) == ("yes", "no", "no")


def persistent_volume(name: str, claim_namespace: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "manual-test",
                "hostPath": {"path": f"/tmp/{name}"},
                "claimRef": {"namespace": claim_namespace, "name": "data"},
            },
        }
    )


def test_provisioner_deletes_only_volumes_claimed_in_store_namespaces(
    provisioner_kubectl: Run, platform, cluster
):
    foreign, ours = f"pv-t{secrets.token_hex(4)}", f"pv-t{secrets.token_hex(4)}"
    cluster.kubectl("create", "-f", "-", input=persistent_volume(foreign, "default"))
    cluster.kubectl("create", "-f", "-", input=persistent_volume(ours, store_name()))
    try:
        done = provisioner_kubectl("delete", "pv", foreign, "--wait=false")
        assert_fenced(
            done,
            platform,
            f"may delete only PersistentVolumes claimed in store-* namespaces; {foreign} is not",
        )
        done = provisioner_kubectl("delete", "pv", ours, "--wait=false")
        assert done.returncode == 0, done.stderr
    finally:
        cluster.kubectl("delete", "pv", foreign, ours, "--ignore-not-found", "--wait=false")


# --- Helm as the provisioner ----------------------------------------------------------------------


def test_helm_installs_the_real_store_chart_as_the_provisioner_only_in_a_store_namespace(
    provisioner_kubectl: Run, provisioner_helm: Run, platform, namespace, cleanup_namespaces
):
    store = create_store_namespace(provisioner_kubectl, cleanup_namespaces, RESTRICTED)
    assert bind_store_manager(provisioner_kubectl, platform, store).returncode == 0
    chart, values = str(ROOT / "store-chart"), str(ROOT / "values" / "stores-local.yaml")
    install = ("upgrade", "--install", "shop", chart, "-f", values, "--wait", "--timeout", "180s")

    installed = provisioner_helm(*install, "-n", store)
    assert installed.returncode == 0, installed.stderr
    tested = provisioner_helm("test", "shop", "-n", store)
    assert tested.returncode == 0, tested.stderr
    upgraded = provisioner_helm(*install, "-n", store)
    assert upgraded.returncode == 0, upgraded.stderr
    history = json.loads(provisioner_helm("history", "shop", "-n", store, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]
    removed = provisioner_helm("uninstall", "shop", "-n", store, "--wait")
    assert removed.returncode == 0, removed.stderr

    outside = provisioner_helm(*install, "-n", namespace)
    assert outside.returncode != 0
    assert f'cannot list resource "secrets" in API group "" in the namespace "{namespace}"' in outside.stderr


# --- app/kube/access.py: the platform's own code path ---------------------------------------------


def kube_as(as_provisioner: Path, role: str) -> Kube:
    return Kube(Settings(kubeconfig=str(as_provisioner), store_role=role))


async def test_store_namespace_creation_binds_the_store_manager_for_the_provisioner(
    as_provisioner: Path, platform: Platform, provisioner_kubectl: Run, cleanup_namespaces, cluster
):
    kube = kube_as(as_provisioner, platform.store_manager)
    store_id = f"t{secrets.token_hex(4)}"
    name = f"store-{store_id}"
    cleanup_namespaces.append(name)
    try:
        assert await kube.ensure_store_namespace(name, store_id=store_id, owner="alice") is True
        binding = cluster.kubectl_json("get", "rolebinding", BINDING_NAME, "-n", name)
        assert binding["roleRef"]["name"] == platform.store_manager
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": platform.service_account, "namespace": platform.namespace}
        ]
        done = provisioner_kubectl("create", "configmap", "c", "-n", name, "--from-literal=k=v")
        assert done.returncode == 0, done.stderr
        # A retried job finds the namespace and its binding and changes nothing.
        assert await kube.ensure_store_namespace(name, store_id=store_id, owner="alice") is False
        assert await kube.delete_namespace(name, timeout=120, store_id=store_id) is True
    finally:
        await kube.close()


async def test_the_drift_sweep_reads_per_namespace_when_the_watch_index_is_refused(
    as_provisioner: Path, platform: Platform, cleanup_namespaces, cluster
):
    """Least privilege allows no cluster-wide list: the index is refused (403) and never used; the
    same read lists inside the store namespace instead, and the sweep's namespace list works."""
    kube = kube_as(as_provisioner, platform.store_manager)
    store_id = f"t{secrets.token_hex(4)}"
    name = f"store-{store_id}"
    cleanup_namespaces.append(name)
    try:
        await kube.ensure_store_namespace(name, store_id=store_id, owner="alice")
        cluster.kubectl("create", "configmap", "shop-settings", "-n", name)
        # Per kind: the first read is refused cluster-wide, then lists in the namespace; the second
        # remembers the refusals (the index's too) and only lists in the namespace.
        for requests in (4, 2):
            found = await kube.inventory([name], {"ConfigMap": True, "Secret": True}, watched=True)
            assert found.served == set() and found.requests == requests
            assert "shop-settings" in found.of(name)["ConfigMap"]
        managed = {ns.name: ns for ns in await kube.list_managed_namespaces()}
        assert managed[name].store_id == store_id and managed[name].created_at is not None
    finally:
        await kube.close()


async def test_a_store_role_other_than_the_store_manager_is_refused(
    as_provisioner: Path, platform: Platform, cleanup_namespaces
):
    kube = kube_as(as_provisioner, "view")
    store_id = f"t{secrets.token_hex(4)}"
    cleanup_namespaces.append(f"store-{store_id}")
    try:
        with pytest.raises(errors.PermanentError) as refused:
            await kube.ensure_store_namespace(f"store-{store_id}", store_id=store_id, owner="alice")
        assert "forbidden" in refused.value.message.lower()
    finally:
        await kube.close()


async def test_a_store_role_needs_service_account_credentials(cluster: ClusterClient, cleanup_namespaces):
    kube = Kube(Settings(kubeconfig=str(cluster.kubeconfig), store_role="anything"))
    store_id = f"t{secrets.token_hex(4)}"
    cleanup_namespaces.append(f"store-{store_id}")
    try:
        with pytest.raises(errors.PermanentError) as refused:
            await kube.ensure_store_namespace(f"store-{store_id}", store_id=store_id, owner="alice")
        assert "must run as a ServiceAccount" in refused.value.message
    finally:
        await kube.close()


def test_the_provisioner_kubeconfig_is_not_the_admin(as_provisioner: Path, platform: Platform):
    """Guards every test above: they would prove nothing with admin credentials."""
    config = yaml.safe_load(as_provisioner.read_text())
    assert set(config["users"][0]["user"]) == {"token"}
