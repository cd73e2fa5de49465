"""StoreTarget guards the namespace it acts on; chart values layer environment, platform, store."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import errors
from app.reconcile import StoreTarget
from app.reconcile.target import Budget
from app.reconcile.values import chart_values, merge
from app.settings import Settings


def target(**changes: object) -> StoreTarget:
    fields: dict = {
        "store_id": "s-1",
        "name": "shop",
        "owner": "alice",
        "engine": "woocommerce",
        "namespace": "store-s-1",
        "release": "shop",
        "host": "shop.localhost",
    }
    return StoreTarget(**{**fields, **changes})


def test_a_target_refuses_a_namespace_not_derived_from_its_store_id() -> None:
    with pytest.raises(ValueError, match="namespace 'kube-system' must be 'store-s-1'"):
        target(namespace="kube-system")


def test_values_layer_environment_then_platform_then_the_store(tmp_path: Path) -> None:
    env_file = tmp_path / "stores.yaml"
    env_file.write_text(
        "host: wrong\ningress:\n  className: traefik\n  annotations: {a: b}\nquota: {pods: 8}\n"
    )
    settings = Settings(store_values_file=str(env_file), ingress_class="nginx")
    values = chart_values(target(values={"quota": {"pods": 4}}), settings)
    assert values == {
        "engine": "woocommerce",
        "host": "shop.localhost",
        "primaryHost": "",
        "ingress": {"className": "nginx", "annotations": {"a": "b"}, "extraHosts": []},
        "quota": {"pods": 4},
        "setup": {"activeDeadlineSeconds": 540},
    }


def test_linked_domains_and_the_primary_are_platform_values_the_environment_cannot_set(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / "stores.yaml"
    env_file.write_text("primaryHost: evil.example.net\ningress:\n  extraHosts: [evil.example.net]\n")
    t = target(extra_hosts=("shop.example.org", "www.example.org"), primary_host="www.example.org")
    values = chart_values(t, Settings(store_values_file=str(env_file)))
    assert values["primaryHost"] == "www.example.org"
    assert values["ingress"]["extraHosts"] == ["shop.example.org", "www.example.org"]


def test_without_an_ingress_class_setting_the_environment_file_names_the_class(tmp_path: Path) -> None:
    env_file = tmp_path / "stores.yaml"
    env_file.write_text("ingress:\n  className: traefik\n")
    values = chart_values(target(), Settings(store_values_file=str(env_file), ingress_class=""))
    assert values["ingress"] == {"className": "traefik", "extraHosts": []}


@pytest.mark.parametrize(("helm_timeout", "deadline"), [(600, 540), (1200, 1140), (180, 120), (60, 30)])
def test_the_setup_job_ends_before_helm_stops_waiting_for_it(helm_timeout: int, deadline: int) -> None:
    values = chart_values(target(), Settings(helm_timeout=helm_timeout))
    assert values["setup"]["activeDeadlineSeconds"] == deadline < helm_timeout


def test_an_unreadable_values_file_is_a_permanent_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "stores.yaml"
    broken.write_text("- a list\n- not a mapping\n")
    with pytest.raises(errors.PermanentError, match=f"store values file {broken} must hold a mapping"):
        chart_values(target(), Settings(store_values_file=str(broken)))
    with pytest.raises(errors.PermanentError, match="cannot be read"):
        chart_values(target(), Settings(store_values_file=str(tmp_path / "missing.yaml")))


def test_merge_replaces_lists_and_scalars_and_merges_maps() -> None:
    assert merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": None}) == {
        "a": {"b": 1, "c": [2]},
        "d": None,
    }


def test_a_budget_leaves_a_margin_and_refuses_when_nothing_is_left() -> None:
    budget = Budget(100)
    assert 89 < budget.for_helm() <= 90
    assert 44 < budget.for_helm(share=0.5) <= 45
    with pytest.raises(errors.StillProgressing, match="ran out of time"):
        Budget(4).for_helm()
