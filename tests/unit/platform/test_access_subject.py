"""app/kube/access.py without a cluster: who the provisioner is, and the binding it asks for."""

from __future__ import annotations

import pytest

from app import errors
from app.kube.access import BINDING_NAME, service_account_of, store_role_binding


def test_a_service_account_username_names_the_subject() -> None:
    subject = service_account_of("system:serviceaccount:storeplane:sp-storeplane-provisioner")
    assert (subject.kind, subject.namespace, subject.name) == (
        "ServiceAccount",
        "storeplane",
        "sp-storeplane-provisioner",
    )


@pytest.mark.parametrize(
    "username",
    [
        "kubernetes-admin",
        "system:admin",
        "system:serviceaccount:only-namespace",
        "system:serviceaccount:a:b:c",
        "system:serviceaccount::x",
    ],
)
def test_anything_but_a_service_account_is_refused_with_the_way_out(username: str) -> None:
    with pytest.raises(errors.PermanentError) as refused:
        service_account_of(username)
    assert repr(username) in refused.value.message
    assert "unset STOREPLANE_STORE_ROLE" in refused.value.message


def test_the_binding_names_the_role_and_only_the_provisioner() -> None:
    subject = service_account_of("system:serviceaccount:storeplane:prov")
    binding = store_role_binding("store-s-1", "storeplane-sp-store-manager", subject)
    assert (binding.metadata.name, binding.metadata.namespace) == (BINDING_NAME, "store-s-1")
    assert binding.metadata.labels == {"app.kubernetes.io/managed-by": "storeplane"}
    assert (binding.roleRef.apiGroup, binding.roleRef.kind, binding.roleRef.name) == (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "storeplane-sp-store-manager",
    )
    assert binding.subjects == [subject]
