#!/usr/bin/env bash
# Sets up WooCommerce on the store's WordPress volume. Runs in the official WP-CLI image as www-data
# (33) from the setup Job, after every install, upgrade and rollback.
#
# Idempotent: each step looks before it changes, so running it again converges on the values.
# Fails loudly: `set -e` plus an EXIT trap that names the step; no error is ignored. Secrets come
# from the environment and are never printed.
# PHP snippets sit in single quotes on purpose: their $ belongs to PHP, not to the shell.
# shellcheck disable=SC2016
set -euo pipefail

step_name="start"
step() {
  step_name=$1
  echo "==> ${step_name}"
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "setup FAILED at step '${step_name}' (exit ${rc})" >&2
  fi
}
trap on_exit EXIT

fail() {
  echo "error: $*" >&2
  exit 1
}

require_env() {
  local name
  for name in "$@"; do
    if [ -z "${!name:-}" ]; then
      fail "environment variable ${name} is required"
    fi
  done
}

# ensure_package plugin|theme SLUG VERSION [ZIP_URL]: installed at exactly VERSION, and active.
ensure_package() {
  local kind=$1 slug=$2 version=$3 url=${4:-} current=""
  if wp "$kind" is-installed "$slug"; then
    current=$(wp "$kind" get "$slug" --field=version)
  fi
  if [ "$current" != "$version" ]; then
    echo "${kind} ${slug}: installed '${current:-none}', pinned '${version}': installing"
    if [ -n "$url" ]; then
      wp "$kind" install "$url" --force
    else
      wp "$kind" install "$slug" --version="$version" --force
    fi
    current=$(wp "$kind" get "$slug" --field=version)
    if [ "$current" != "$version" ]; then
      fail "${kind} ${slug} is at version '${current}' after installing, expected '${version}'"
    fi
  fi
  if ! wp "$kind" is-active "$slug"; then
    wp "$kind" activate "$slug"
  fi
}

# wp_version_name VERSION: the name WordPress gives a release. Image tags carry three parts
# ("7.1.0-php8.3-apache") while WordPress calls its x.y.0 releases "x.y" (version.php and the
# wordpress.org archive names), so "7.1.0" and "7.1" are the same release.
wp_version_name() {
  local version=$1
  case $version in
    *.*.0) version=${version%.0} ;;
  esac
  printf '%s' "$version"
}

# A real query through PHP's mysqli (the client WordPress itself uses), not a TCP probe.
database_answers() {
  php -r '
    mysqli_report(MYSQLI_REPORT_OFF);
    $host = getenv("WORDPRESS_DB_HOST");
    $port = 3306;
    if (strpos($host, ":") !== false) {
        [$host, $port] = explode(":", $host, 2);
    }
    $db = @mysqli_connect($host, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"),
        getenv("WORDPRESS_DB_NAME"), (int) $port);
    if (!$db) {
        fwrite(STDERR, "database not ready: " . mysqli_connect_error() . "\n");
        exit(1);
    }
    if (!mysqli_query($db, "SELECT 1")) {
        fwrite(STDERR, "database query failed: " . mysqli_error($db) . "\n");
        exit(1);
    }
  '
}

require_env STORE_URL STORE_TITLE ADMIN_USER ADMIN_EMAIL ADMIN_PASSWORD WC_VERSION THEME_SLUG \
  THEME_VERSION STORE_CURRENCY STORE_COUNTRY PRODUCT_NAME PRODUCT_SKU PRODUCT_PRICE PRODUCT_STOCK \
  WAIT_SECONDS WORDPRESS_DB_HOST WORDPRESS_DB_USER WORDPRESS_DB_PASSWORD WORDPRESS_DB_NAME
cd "${WP_PATH:-/var/www/html}"

step "wait for WordPress files and wp-config.php (written by the web container)"
deadline=$((SECONDS + WAIT_SECONDS))
until [ -s wp-config.php ] && [ -s wp-includes/version.php ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "no WordPress in $(pwd) after ${WAIT_SECONDS}s: is the web pod running on the content volume?"
  fi
  sleep 2
done

step "wait for the database"
until database_answers; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "database ${WORDPRESS_DB_HOST} did not answer within ${WAIT_SECONDS}s"
  fi
  sleep 3
done

step "install WordPress core"
if wp core is-installed; then
  echo "WordPress is already installed"
else
  wp core install --url="$STORE_URL" --title="$STORE_TITLE" --admin_user="$ADMIN_USER" \
    --admin_password="$ADMIN_PASSWORD" --admin_email="$ADMIN_EMAIL" --skip-email
fi

step "WordPress core ${WP_CORE_VERSION:-(not pinned by the image tag)}"
# The web image copies WordPress onto the volume only when it is empty, so a newer (or, on
# rollback, older) image tag would otherwise leave the old core in place.
if [ -n "${WP_CORE_VERSION:-}" ]; then
  core_version=$(wp_version_name "$(wp core version)")
  image_version=$(wp_version_name "$WP_CORE_VERSION")
  if [ "$core_version" != "$image_version" ]; then
    echo "core is ${core_version}, the image carries ${image_version}: updating"
    wp core update --version="$image_version" --force
    wp core update-db
  else
    echo "core is ${core_version}, as in the image"
  fi
else
  echo "the image tag names no WordPress version: core stays as installed"
fi

step "site title, URL and admin e-mail"
wp option update blogname "$STORE_TITLE"
wp option update home "$STORE_URL"
wp option update siteurl "$STORE_URL"
wp option update admin_email "$ADMIN_EMAIL"

step "administrator account ${ADMIN_USER}"
if wp user get "$ADMIN_USER" --field=ID >/dev/null; then
  echo "administrator ${ADMIN_USER} exists"
else
  wp user create "$ADMIN_USER" "$ADMIN_EMAIL" --role=administrator --user_pass="$ADMIN_PASSWORD"
fi

step "pretty permalinks (the Store API lives under /wp-json/)"
if [ "$(wp option get permalink_structure)" != "/%postname%/" ]; then
  wp rewrite structure '/%postname%/'
fi
wp rewrite flush

step "theme ${THEME_SLUG} ${THEME_VERSION}"
ensure_package theme "$THEME_SLUG" "$THEME_VERSION" "${THEME_PACKAGE_URL:-}"

step "WooCommerce ${WC_VERSION}"
ensure_package plugin woocommerce "$WC_VERSION" "${WC_PACKAGE_URL:-}"
wp wc update

step "store settings: currency, location, guest checkout, no coming-soon, no wizards"
wp option update woocommerce_currency "$STORE_CURRENCY"
wp option update woocommerce_default_country "$STORE_COUNTRY"
wp option update woocommerce_enable_guest_checkout yes
wp option update woocommerce_coming_soon no
wp option update woocommerce_store_pages_only no
# Shipping is off: without rates a physical product could not be checked out (see README).
wp option update woocommerce_ship_to_countries disabled
wp option update woocommerce_allow_tracking no
wp option update woocommerce_show_marketplace_suggestions no
wp option update woocommerce_onboarding_profile '{"skipped":true}' --format=json
# The set-up task list is hidden through its current option, a list of hidden list ids.
# (`woocommerce_task_list_hidden` is a deprecated alias: WooCommerce's pre_update hook hides the
# list and refuses the write, so `wp option update` exits 1 on the first run.)
hidden_lists='[]'
if [ "$(wp option list --search=woocommerce_task_list_hidden_lists --format=count)" != 0 ]; then
  hidden_lists=$(wp option get woocommerce_task_list_hidden_lists --format=json)
fi
hidden_lists=$(php -r '
  $lists = json_decode($argv[1], true);
  $lists = is_array($lists) ? array_values($lists) : [];
  if (in_array("setup", $lists, true)) { exit(0); }
  $lists[] = "setup";
  echo json_encode($lists);' "$hidden_lists")
if [ -n "$hidden_lists" ]; then
  wp option update woocommerce_task_list_hidden_lists "$hidden_lists" --format=json
else
  echo "set-up task list already hidden"
fi

step "order storage: HPOS"
# WooCommerce switches a new shop to its own order tables (HPOS) only on the first wp-admin page
# load, and only while no order exists; the helm-test order comes first, so without this step
# every store would stay on legacy post storage. Stores set up before this step have their
# orders copied over first (`hpos sync`), as WooCommerce requires before enabling.
hpos_status=$(wp wc hpos status)
if grep -qx 'HPOS enabled?: yes' <<<"$hpos_status"; then
  echo "orders are already stored in the HPOS tables"
else
  counted=$(wp wc hpos count_unmigrated)
  unsynced=$(sed -n 's/^There \(is\|are\) \([0-9][0-9]*\) orders\{0,1\} to be synced\.$/\2/p' <<<"$counted")
  if [ -z "$unsynced" ]; then
    fail "cannot read the number of orders to copy from: ${counted}"
  fi
  if [ "$unsynced" -gt 0 ]; then
    wp wc hpos sync
  fi
  wp wc hpos enable
fi

step "Cash on Delivery"
wp wc payment_gateway update cod --enabled=true --user="$ADMIN_USER"
cod_enabled=$(wp option pluck woocommerce_cod_settings enabled)
if [ "$cod_enabled" != "yes" ]; then
  fail "Cash on Delivery is not enabled after updating it (enabled='${cod_enabled}')"
fi

step "product ${PRODUCT_SKU}"
product_id=$(wp wc product list --sku="$PRODUCT_SKU" --field=id --user="$ADMIN_USER")
product_args=(--name="$PRODUCT_NAME" --regular_price="$PRODUCT_PRICE" --manage_stock=true
  --stock_quantity="$PRODUCT_STOCK" --status=publish --user="$ADMIN_USER")
if [ -z "$product_id" ]; then
  product_id=$(wp wc product create --type=simple --sku="$PRODUCT_SKU" "${product_args[@]}" --porcelain)
else
  wp wc product update "$product_id" "${product_args[@]}"
fi
case $product_id in
  '' | *[!0-9]*) fail "expected one numeric product id for SKU ${PRODUCT_SKU}, got '${product_id}'" ;;
esac

step "done"
echo "setup complete: WooCommerce ${WC_VERSION}, theme ${THEME_SLUG} ${THEME_VERSION}, product #${product_id}"
