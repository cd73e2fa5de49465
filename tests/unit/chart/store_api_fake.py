"""A small HTTP server that follows the WooCommerce Store API contract the order test relies on.

WooCommerce cannot run here, so the chart's order-test script is run for real against this server.
What it enforces, as WooCommerce does (wc/store/v1):
- GET /products lists products (id, is_purchasable, is_in_stock, prices).
- GET /cart starts a cart session and returns `Nonce` and `Cart-Token` response headers.
- POST /cart/add-item and POST /checkout need the cart's token and its nonce: a missing nonce is
  401 woocommerce_rest_missing_nonce, a wrong one 403 woocommerce_rest_invalid_nonce. Every
  response rotates the nonce, and the client must send the latest one.
- POST /checkout validates the billing address and the payment method, rejects an empty cart (400
  woocommerce_rest_cart_empty) and answers order_id, status and payment_result.
Errors use WordPress's REST shape: {"code", "message", "data": {"status"}}.

Scenarios switch on the faults the tests need (wrong nonce, empty catalogue, failed checkout, ...).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/wp-json/wc/store/v1"
BILLING_REQUIRED = ("first_name", "last_name", "address_1", "city", "postcode", "country", "email")


@dataclass
class Scenario:
    """What the fake store does differently from a healthy WooCommerce."""

    products: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": 15,
                "name": "Storeplane T-shirt",
                "is_purchasable": True,
                "is_in_stock": True,
                "prices": {"price": "1999", "currency_code": "USD", "currency_minor_unit": 2},
            }
        ]
    )
    # Answer add-item with a nonce other than the one issued (a stale or foreign session).
    reject_nonce: bool = False
    # Checkout fails like a disabled payment gateway.
    checkout_error: tuple[int, str, str] | None = None
    # Order status and id the checkout reports.
    order_status: str = "processing"
    order_id: Any = None
    # Expected Host header (the store's public host), None to accept any.
    expected_host: str | None = None


@dataclass
class Cart:
    token: str
    nonce: str
    items: dict[int, int] = field(default_factory=dict)


class StoreApiFake:
    """Runs the fake on 127.0.0.1 with an ephemeral port; records the orders it accepted."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.carts: dict[str, Cart] = {}
        self.orders: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._next_order = 100
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StoreApiFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the contract -------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        """Returns (status, extra response headers, JSON body) for one request."""
        expected_host = self.scenario.expected_host
        if expected_host is not None and headers.get("host") != expected_host:
            return 404, {}, _error("rest_no_route", "No route was found matching the URL.", 404)
        if not path.startswith(PREFIX):
            return 404, {}, _error("rest_no_route", "No route was found matching the URL.", 404)
        route = path[len(PREFIX) :].split("?", 1)[0]
        if method == "GET" and route == "/products":
            return 200, {}, self.scenario.products
        if method == "GET" and route == "/cart":
            cart = self._cart_for(headers) or self._new_cart()
            return 200, self._session_headers(cart), _cart_body(cart)
        if method == "POST" and route in ("/cart/add-item", "/checkout"):
            cart = self._cart_for(headers)
            if cart is None:
                cart = self._new_cart()
            nonce = headers.get("nonce")
            if not nonce:
                msg = "Missing the Nonce header. This endpoint requires a valid nonce."
                return 401, {}, _error("woocommerce_rest_missing_nonce", msg, 401)
            if nonce != cart.nonce or self.scenario.reject_nonce:
                return 403, {}, _error("woocommerce_rest_invalid_nonce", "Nonce is invalid.", 403)
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return 400, {}, _error("rest_invalid_json", "Invalid JSON body passed.", 400)
            if route == "/cart/add-item":
                return self._add_item(cart, payload)
            return self._checkout(cart, payload)
        return 404, {}, _error("rest_no_route", "No route was found matching the URL.", 404)

    def _add_item(self, cart: Cart, payload: dict) -> tuple[int, dict, Any]:
        product = next((p for p in self.scenario.products if p["id"] == payload.get("id")), None)
        if product is None:
            return (
                400,
                {},
                _error("woocommerce_rest_cart_invalid_product", "This product cannot be added.", 400),
            )
        if not product["is_in_stock"]:
            return 400, {}, _error("woocommerce_rest_product_out_of_stock", "Out of stock.", 400)
        quantity = payload.get("quantity", 1)
        cart.items[product["id"]] = cart.items.get(product["id"], 0) + int(quantity)
        return 201, self._rotate(cart), _cart_body(cart)

    def _checkout(self, cart: Cart, payload: dict) -> tuple[int, dict, Any]:
        if not cart.items:
            return 400, {}, _error("woocommerce_rest_cart_empty", "Cannot create order from empty cart.", 400)
        billing = payload.get("billing_address") or {}
        missing = [key for key in BILLING_REQUIRED if not billing.get(key)]
        if missing:
            msg = f"There was a problem with the provided billing address: {', '.join(missing)} required"
            return 400, {}, _error("woocommerce_rest_invalid_address", msg, 400)
        if payload.get("payment_method") != "cod":
            msg = "The selected payment method is not available."
            return 400, {}, _error("woocommerce_rest_checkout_invalid_payment_method", msg, 400)
        if self.scenario.checkout_error:
            status, code, message = self.scenario.checkout_error
            return status, self._rotate(cart), _error(code, message, status)
        with self._lock:
            self._next_order += 1
            order_id = self.scenario.order_id if self.scenario.order_id is not None else self._next_order
            order = {"order_id": order_id, "items": dict(cart.items), "billing": billing, "payment": "cod"}
            self.orders.append(order)
        cart.items.clear()
        body = {
            "order_id": order_id,
            "status": self.scenario.order_status,
            "order_key": f"wc_order_{secrets.token_hex(6)}",
            "payment_method": "cod",
            "payment_result": {"payment_status": "success", "payment_details": [], "redirect_url": ""},
        }
        return 200, self._rotate(cart), body

    # --- sessions ------------------------------------------------------------------------------

    def _new_cart(self) -> Cart:
        cart = Cart(token=f"eyJ{secrets.token_urlsafe(24)}", nonce=secrets.token_hex(5))
        with self._lock:
            self.carts[cart.token] = cart
        return cart

    def _cart_for(self, headers: dict[str, str]) -> Cart | None:
        return self.carts.get(headers.get("cart-token", ""))

    def _rotate(self, cart: Cart) -> dict[str, str]:
        cart.nonce = secrets.token_hex(5)
        return self._session_headers(cart)

    @staticmethod
    def _session_headers(cart: Cart) -> dict[str, str]:
        return {"Nonce": cart.nonce, "Cart-Token": cart.token, "Nonce-Timestamp": "1764100000"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append((self.command, self.path, headers))
                status, extra, payload = fake.handle(self.command, self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        return Handler


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


def _cart_body(cart: Cart) -> dict[str, Any]:
    items = [{"id": pid, "quantity": qty} for pid, qty in cart.items.items()]
    return {"items": items, "items_count": sum(cart.items.values()), "needs_payment": bool(items)}
