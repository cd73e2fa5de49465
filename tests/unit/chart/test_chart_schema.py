"""values.schema.json: helm refuses bad values before rendering, saying which value and why."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.unit.chart.render import CHART, render, render_error

BAD_VALUES = [
    pytest.param(
        {"engine": "shopify"}, "at '/engine': value must be one of 'woocommerce', 'medusa'", id="engine-enum"
    ),
    pytest.param({"host": "Shop_1.example"}, "at '/host'", id="host-not-dns-1123"),
    pytest.param(
        {"baseDomain": "-bad-.example"},
        "at '/baseDomain': '-bad-.example' does not match pattern",
        id="base-domain-not-dns-1123",
    ),
    pytest.param(
        {"ingress": {"extraHosts": ["ok.example.org", "Not Valid"]}},
        "at '/ingress/extraHosts/1'",
        id="custom-domain-not-dns-1123",
    ),
    pytest.param(
        {"mariadb": {"persistence": {"size": "lots"}}},
        "at '/mariadb/persistence/size': 'lots' does not match pattern",
        id="storage-quantity",
    ),
    pytest.param(
        {"wordpress": {"resources": {"limits": {"cpu": "fast"}}}},
        "at '/wordpress/resources/limits/cpu': 'fast' does not match pattern",
        id="cpu-quantity",
    ),
    pytest.param({"quota": {"requestsMemory": "3 GB"}}, "at '/quota/requestsMemory'", id="memory-quantity"),
    pytest.param({"tls": {"enabled": "yes"}}, "at '/tls/enabled': got string, want boolean", id="boolean"),
    pytest.param(
        {"tls": {"enabled": True, "clusterIssuer": ""}},
        "at '/tls/clusterIssuer': minLength: got 0, want 1",
        id="tls-needs-issuer",
    ),
    pytest.param(
        {"woocommerce": {"packageUrl": "ftp://mirror/woo.zip"}},
        "at '/woocommerce/packageUrl': 'ftp://mirror/woo.zip' does not match pattern",
        id="url-scheme",
    ),
    pytest.param({"admin": {"email": "not-an-email"}}, "at '/admin/email'", id="email"),
    pytest.param({"admin": {"user": "A"}}, "at '/admin/user'", id="admin-user"),
    pytest.param(
        {"woocommerce": {"version": "latest"}},
        "at '/woocommerce/version': 'latest' does not match",
        id="unpinned-plugin-version",
    ),
    pytest.param(
        {"images": {"wordpress": {"digest": "md5:abc"}}}, "at '/images/wordpress/digest'", id="image-digest"
    ),
    pytest.param({"quota": {"pods": 0}}, "at '/quota/pods': minimum: got 0, want 1", id="integer-minimum"),
    pytest.param(
        {"wordpress": {"uploadMaxSize": "1G"}},
        "at '/wordpress/uploadMaxSize': '1G' does not match pattern",
        id="upload-size-in-megabytes",
    ),
    pytest.param({"cron": {"schedule": "hourly"}}, "at '/cron/schedule'", id="cron-schedule"),
    pytest.param(
        {"networkPolicy": {"ingressController": {"peers": []}}},
        "at '/networkPolicy/ingressController/peers': minItems",
        id="no-ingress-controller",
    ),
    pytest.param(
        {"networkPolicy": {"ingressController": {"peers": [{"podSelector": {"app": "traefik"}}]}}},
        "at '/networkPolicy/ingressController/peers/0'",
        id="ingress-controller-peer-needs-namespace",
    ),
    pytest.param(
        {"orderTest": {"ingressService": "http://traefik"}},
        "at '/orderTest/ingressService'",
        id="ingress-service-host",
    ),
    pytest.param(
        {"setup": {"backoffLimit": "two"}},
        "at '/setup/backoffLimit': got string, want integer",
        id="integer-type",
    ),
    pytest.param(
        {"ingress": {"enable": True}},
        "at '/ingress': additional properties 'enable' not allowed",
        id="unknown-key",
    ),
    pytest.param(
        {"networkPolicy": {"internet": {"cidr": "10.1.2.3"}}}, "at '/networkPolicy/internet/cidr'", id="cidr"
    ),
    pytest.param(
        {"woocommerce": {"product": {"regularPrice": "19,99"}}},
        "at '/woocommerce/product/regularPrice'",
        id="price",
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_the_schema_rejects_bad_values_with_a_readable_message(values: dict[str, Any], message: str):
    error = render_error(values)

    assert "values don't meet the specifications of the schema" in error
    assert message in error


def test_every_value_in_values_yaml_is_described_by_the_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]] | {
                k: v for k, v in node.items() if k != "$ref"
            }
        return node

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        node = resolve(node)
        if isinstance(value, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, child in value.items():
                assert key in node["properties"], f"{path}.{key} is not in the schema"
                walk(child, node["properties"][key], f"{path}.{key}")

    walk(defaults, schema, "")


def test_good_values_of_every_kind_are_accepted():
    objects = render(
        {
            "host": "shop.example.org",
            "storeName": "Alpha Outfitters — Summer",
            "admin": {"user": "owner.one", "email": "owner@example.org"},
            "ingress": {"extraHosts": ["www.example.org"], "annotations": {"a/b": "c"}},
            "tls": {"enabled": True, "clusterIssuer": "letsencrypt-prod"},
            "woocommerce": {"packageUrl": "https://mirror.example.org/woocommerce.10.2.2.zip"},
            "images": {"mariadb": {"digest": "sha256:" + "a" * 64}},
            "mariadb": {"resources": {"limits": {"cpu": 1.5, "memory": "1Gi"}}},
        }
    )
    statefulset = next(o for o in objects if o["kind"] == "StatefulSet")
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == "mariadb@sha256:" + "a" * 64
