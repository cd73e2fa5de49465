#!/usr/bin/env bash
# Places one real order through the WooCommerce Store API (`helm test`): list products -> (the
# same list through the ingress controller, with the store's public host) -> get cart (Nonce and
# Cart-Token headers) -> add item -> checkout with Cash on Delivery -> check the order id and
# status. On failure it exits 1 naming the step, the HTTP status and the response body.
#
# Needs bash, curl and php (JSON); the WP-CLI image the chart already pulls has all three.
#   STORE_URL         base URL, e.g. http://shop-wordpress (required)
#   STORE_HOST        Host header to send (the store's public host), optional
#   STORE_PUBLIC_URL  the store's public URL, e.g. https://shop.example.com (for the ingress check)
#   INGRESS_SERVICE   host[:port] of the ingress controller's Service; empty skips the ingress check.
#                     curl connects there but sends the public host (Host header, TLS SNI, and
#                     the certificate is verified), exactly what a browser's request carries.
#   REQUEST_TIMEOUT   seconds per request (default 30)
# PHP snippets sit in single quotes on purpose: their $ belongs to PHP, not to the shell.
# shellcheck disable=SC2016
set -euo pipefail

: "${STORE_URL:?STORE_URL is required, e.g. http://shop-wordpress}"
STORE_HOST=${STORE_HOST:-}
STORE_PUBLIC_URL=${STORE_PUBLIC_URL:-}
INGRESS_SERVICE=${INGRESS_SERVICE:-}
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-30}
API="${STORE_URL%/}/wp-json/wc/store/v1"
# Where requests go: the web Service (with STORE_HOST as Host), or the public URL routed through
# the ingress controller (route_args holds curl's --connect-to for that).
base=$API
host_header=$STORE_HOST
route_args=()

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nonce=""
cart_token=""
status=""

# fail STEP MESSAGE: the single way out on error, with the last response body when there is one.
fail() {
  echo "order test FAILED at step '$1': $2" >&2
  if [ -s "$work/body" ]; then
    echo "response body (first 2000 bytes):" >&2
    head -c 2000 "$work/body" >&2
    echo >&2
  fi
  exit 1
}

# header NAME: value of a response header of the last request ("" if absent).
header() {
  awk -v name="$1" 'BEGIN { FS = ": *" }
    tolower($1) == tolower(name) { sub(/\r$/, "", $2); value = $2 } END { print value }' "$work/headers"
}

# request STEP METHOD PATH [JSON]: sends the request, stores body and headers, sets $status and
# refreshes the nonce and cart token from the response (WooCommerce rotates them).
request() {
  local step=$1 method=$2 path=$3 body=${4:-}
  local args=(--silent --show-error --max-time "$REQUEST_TIMEOUT" --request "$method"
    --output "$work/body" --dump-header "$work/headers" --write-out '%{http_code}'
    --cookie "$work/cookies" --cookie-jar "$work/cookies" --header 'Accept: application/json')
  if [ -n "$host_header" ]; then args+=(--header "Host: ${host_header}"); fi
  if [ "${#route_args[@]}" -gt 0 ]; then args+=("${route_args[@]}"); fi
  if [ -n "$nonce" ]; then args+=(--header "Nonce: ${nonce}"); fi
  if [ -n "$cart_token" ]; then args+=(--header "Cart-Token: ${cart_token}"); fi
  if [ -n "$body" ]; then args+=(--header 'Content-Type: application/json' --data-binary "$body"); fi
  : >"$work/body"
  : >"$work/headers"
  if ! status=$(curl "${args[@]}" "${base}${path}" 2>"$work/curl-error"); then
    fail "$step" "${method} ${base}${path} did not complete: $(cat "$work/curl-error")"
  fi
  local fresh
  fresh=$(header Nonce)
  if [ -n "$fresh" ]; then nonce=$fresh; fi
  fresh=$(header Cart-Token)
  if [ -n "$fresh" ]; then cart_token=$fresh; fi
}

# expect_status STEP CODES...: the last response had one of these HTTP statuses.
expect_status() {
  local step=$1 code
  shift
  for code in "$@"; do
    if [ "$status" = "$code" ]; then return 0; fi
  done
  fail "$step" "HTTP ${status}, expected $*"
}

# json STEP PHP: runs PHP with $d = the decoded last body; the PHP prints a value or, on a broken
# expectation, writes a reason to stderr and exits non-zero.
json() {
  local step=$1 code=$2 out
  if ! out=$(php -r '
      $d = json_decode(file_get_contents($argv[1]), true);
      if (!is_array($d)) { fwrite(STDERR, "response is not a JSON object or array\n"); exit(2); }
      '"$code" "$work/body" 2>"$work/php-error"); then
    fail "$step" "HTTP ${status}, $(cat "$work/php-error")"
  fi
  printf '%s' "$out"
}

step="list products"
request "$step" GET "/products?per_page=20"
expect_status "$step" 200
product_id=$(json "$step" '
  foreach ($d as $p) {
    if (!empty($p["is_purchasable"]) && !empty($p["is_in_stock"]) && is_int($p["id"] ?? null)) {
      echo $p["id"]; exit(0);
    }
  }
  fwrite(STDERR, count($d) === 0 ? "the catalogue is empty\n" : "no purchasable product in stock among " . count($d) . "\n");
  exit(1);')
echo "ok   ${step}: product ${product_id}"

if [ -n "$INGRESS_SERVICE" ]; then
  step="through the ingress"
  : "${STORE_PUBLIC_URL:?STORE_PUBLIC_URL is required with INGRESS_SERVICE}"
  public_host=${STORE_PUBLIC_URL#*://}
  public_host=${public_host%%/*}
  case $STORE_PUBLIC_URL in
    https://*) public_port=443 ;;
    *) public_port=80 ;;
  esac
  target=$INGRESS_SERVICE
  case $target in
    *:*) ;;
    *) target="${target}:${public_port}" ;;
  esac
  base="${STORE_PUBLIC_URL%/}/wp-json/wc/store/v1"
  host_header=""
  route_args=(--connect-to "${public_host}:${public_port}:${target}")
  request "$step" GET "/products?per_page=20"
  expect_status "$step" 200
  json "$step" '
    foreach ($d as $p) { if (($p["id"] ?? null) === '"$product_id"') { exit(0); } }
    fwrite(STDERR, "product '"$product_id"' is not in the catalogue served through the ingress\n");
    exit(1);' >/dev/null
  echo "ok   ${step}: ${STORE_PUBLIC_URL%/}/ routed by ${target} serves product ${product_id}"
  base=$API
  host_header=$STORE_HOST
  route_args=()
fi

step="get cart"
request "$step" GET "/cart"
expect_status "$step" 200
if [ -z "$nonce" ]; then fail "$step" "HTTP ${status} without a Nonce header"; fi
if [ -z "$cart_token" ]; then fail "$step" "HTTP ${status} without a Cart-Token header"; fi
echo "ok   ${step}: got Nonce and Cart-Token"

step="add item"
request "$step" POST "/cart/add-item" "{\"id\": ${product_id}, \"quantity\": 1}"
expect_status "$step" 200 201
items=$(json "$step" '
  $n = $d["items_count"] ?? null;
  if (!is_int($n) || $n < 1) { fwrite(STDERR, "cart has no items after adding product\n"); exit(1); }
  echo $n;')
echo "ok   ${step}: cart has ${items} item(s)"

step="checkout"
request "$step" POST "/checkout" '{
  "billing_address": {
    "first_name": "Store", "last_name": "Verifier", "company": "", "address_1": "1 Test Street",
    "address_2": "", "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
    "email": "verify@storeplane.test", "phone": "5555550100"
  },
  "shipping_address": {
    "first_name": "Store", "last_name": "Verifier", "company": "", "address_1": "1 Test Street",
    "address_2": "", "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
    "phone": "5555550100"
  },
  "customer_note": "Placed by the Storeplane order test (helm test).",
  "payment_method": "cod"
}'
expect_status "$step" 200
order=$(json "$step" '
  $id = $d["order_id"] ?? null;
  $st = $d["status"] ?? null;
  if (!is_int($id) || $id < 1) { fwrite(STDERR, "order_id is not a positive number: " . json_encode($id) . "\n"); exit(1); }
  if (!in_array($st, ["processing", "on-hold"], true)) { fwrite(STDERR, "order " . $id . " has status " . json_encode($st) . ", expected processing or on-hold\n"); exit(1); }
  echo $id . " " . $st;')
echo "ok   ${step}: order ${order% *} is ${order#* }"
echo "PASS: order ${order% *} placed with Cash on Delivery"
