"""Which cluster the Kubernetes access talks to, and the errors when it cannot know."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app import errors
from app.kube import store_labels
from app.kube.client import load_config
from app.settings import Settings


def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "admin", "user": {}}],
                "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "admin"}}],
                "current-context": "sim",
            }
        )
    )
    return path


def test_the_configured_kubeconfig_and_context_are_used(tmp_path: Path) -> None:
    config = load_config(Settings(kubeconfig=str(kubeconfig(tmp_path)), kube_context="sim"))
    assert config.get(context_name="sim").cluster.server == "https://127.0.0.1:6443"


def test_a_missing_kubeconfig_is_a_permanent_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(
        errors.PermanentError, match=r"kubeconfig .*/nope does not exist; set STOREPLANE_KUBECONFIG"
    ):
        load_config(Settings(kubeconfig=str(tmp_path / "nope")))


def test_an_unknown_context_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(errors.PermanentError, match="Context 'prod' not found"):
        load_config(Settings(kubeconfig=str(kubeconfig(tmp_path)), kube_context="prod"))


def test_store_namespaces_are_labelled_as_managed_with_pod_security_restricted() -> None:
    assert store_labels(store_id="s-1", owner="alice") == {
        "app.kubernetes.io/managed-by": "storeplane",
        "storeplane.io/owner": "alice",
        "storeplane.io/store-id": "s-1",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


@pytest.mark.parametrize("owner", ["alice@example.com", "x" * 64, "-alice"])
def test_an_owner_that_cannot_be_a_label_value_is_refused_with_the_rule(owner: str) -> None:
    with pytest.raises(errors.PermanentError, match="is not a valid label value"):
        store_labels(store_id="s-1", owner=owner)
