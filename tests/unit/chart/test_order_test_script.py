"""The chart's order-test script, run for real (bash, curl, php) against a local Store API fake."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.unit.chart.store_api_fake import Scenario, StoreApiFake

SCRIPT = Path(__file__).resolve().parents[3] / "store-chart" / "files" / "woocommerce" / "order-test.sh"
HOST = "shop.localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_order_test(url: str, host: str = HOST) -> subprocess.CompletedProcess[str]:
    for tool in ("bash", "curl", "php"):
        assert shutil.which(tool), f"{tool} is needed to run the order-test script (make system-deps)"
    env = {"PATH": os.environ["PATH"], "STORE_URL": url, "STORE_HOST": host, "REQUEST_TIMEOUT": "10"}
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_healthy_store_gets_one_cash_on_delivery_order():
    with StoreApiFake(Scenario(expected_host=HOST)) as store:
        result = run_order_test(store.url)

    assert result.returncode == 0, result.stderr
    assert len(store.orders) == 1
    order = store.orders[0]
    assert order["payment"] == "cod"
    assert order["items"] == {15: 1}
    assert order["billing"]["email"] == "verify@storeplane.test"
    assert f"PASS: order {order['order_id']} placed with Cash on Delivery" in result.stdout


def test_the_script_sends_the_cart_token_and_the_latest_nonce_on_every_cart_write():
    with StoreApiFake() as store:
        result = run_order_test(store.url)

    assert result.returncode == 0, result.stderr
    writes = [(path, headers) for method, path, headers in store.requests if method == "POST"]
    assert [path.rsplit("/", 1)[-1] for path, _ in writes] == ["add-item", "checkout"]
    tokens = {headers["cart-token"] for _, headers in writes}
    assert len(tokens) == 1 and tokens <= set(store.carts)
    # The nonce rotates after add-item; checkout must have used the rotated one (else 403).
    assert writes[0][1]["nonce"] != writes[1][1]["nonce"]


def test_a_wrong_nonce_fails_at_add_item_with_status_and_body():
    with StoreApiFake(Scenario(reject_nonce=True)) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "order test FAILED at step 'add item': HTTP 403, expected 200 201" in result.stderr
    assert "woocommerce_rest_invalid_nonce" in result.stderr
    assert store.orders == []


def test_an_empty_catalogue_fails_at_list_products():
    with StoreApiFake(Scenario(products=[])) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "FAILED at step 'list products': HTTP 200, the catalogue is empty" in result.stderr


def test_a_catalogue_without_purchasable_stock_fails_at_list_products():
    sold_out = [{"id": 7, "name": "Gone", "is_purchasable": True, "is_in_stock": False, "prices": {}}]
    with StoreApiFake(Scenario(products=sold_out)) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "no purchasable product in stock among 1" in result.stderr


def test_a_failed_checkout_names_the_step_the_status_and_the_error_code():
    failure = (400, "woocommerce_rest_checkout_payment_method_disabled", "Cash on delivery is disabled.")
    with StoreApiFake(Scenario(checkout_error=failure)) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "FAILED at step 'checkout': HTTP 400, expected 200" in result.stderr
    assert "woocommerce_rest_checkout_payment_method_disabled" in result.stderr
    assert store.orders == []


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        (Scenario(order_status="pending"), 'has status "pending", expected processing or on-hold'),
        (Scenario(order_status="failed"), 'has status "failed"'),
        (Scenario(order_id="abc"), 'order_id is not a positive number: "abc"'),
        (Scenario(order_id=0), "order_id is not a positive number: 0"),
    ],
)
def test_an_order_that_is_not_numeric_or_not_processing_fails_the_checkout_step(scenario, reason):
    with StoreApiFake(scenario) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "FAILED at step 'checkout'" in result.stderr
    assert reason in result.stderr


def test_an_on_hold_order_passes():
    with StoreApiFake(Scenario(order_status="on-hold")) as store:
        result = run_order_test(store.url)

    assert result.returncode == 0, result.stderr
    assert "is on-hold" in result.stdout


def test_a_store_that_does_not_serve_the_api_fails_at_the_first_step_with_the_404_body():
    # Plain permalinks or a wrong Host: WordPress has no /wp-json/ route.
    with StoreApiFake(Scenario(expected_host="other.example")) as store:
        result = run_order_test(store.url)

    assert result.returncode == 1
    assert "FAILED at step 'list products': HTTP 404, expected 200" in result.stderr
    assert "rest_no_route" in result.stderr


def test_an_unreachable_store_fails_at_the_first_step_naming_the_url():
    with StoreApiFake() as store:
        url = store.url
    # The server is closed now: the connection is refused.
    result = run_order_test(url)

    assert result.returncode == 1
    assert "FAILED at step 'list products': GET " in result.stderr
    assert "did not complete" in result.stderr


def test_the_script_refuses_to_run_without_a_store_url():
    result = subprocess.run(
        ["bash", str(SCRIPT)], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "STORE_URL is required" in result.stderr


def run_through_ingress(url: str, ingress: str, public_url: str = f"http://{HOST}"):
    env = {
        "PATH": os.environ["PATH"],
        "STORE_URL": url,
        "STORE_HOST": HOST,
        "STORE_PUBLIC_URL": public_url,
        "INGRESS_SERVICE": ingress,
        "REQUEST_TIMEOUT": "10",
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_catalogue_is_also_fetched_through_the_ingress_with_the_public_host():
    with (
        StoreApiFake(Scenario(expected_host=HOST)) as web,
        StoreApiFake(Scenario(expected_host=HOST)) as ingress,
    ):
        result = run_through_ingress(web.url, ingress.url.removeprefix("http://"))

    assert result.returncode == 0, result.stderr
    assert [(m, p) for m, p, _ in ingress.requests] == [("GET", "/wp-json/wc/store/v1/products?per_page=20")]
    assert ingress.requests[0][2]["host"] == HOST
    assert len(web.orders) == 1 and ingress.orders == []
    assert (
        f"ok   through the ingress: http://{HOST}/ routed by {ingress.url.removeprefix('http://')}"
        in result.stdout
    )


def test_an_ingress_that_does_not_answer_fails_its_step_before_any_order():
    with StoreApiFake() as web:
        result = run_through_ingress(web.url, f"127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert (
        "order test FAILED at step 'through the ingress': GET http://shop.localhost/wp-json" in result.stderr
    )
    assert web.orders == []


def test_an_ingress_routing_to_another_store_is_caught():
    with StoreApiFake() as web, StoreApiFake(Scenario(products=[])) as other:
        result = run_through_ingress(web.url, other.url.removeprefix("http://"))

    assert result.returncode == 1
    assert (
        "FAILED at step 'through the ingress': HTTP 200, product 15 is not in the catalogue" in result.stderr
    )
    assert web.orders == []
