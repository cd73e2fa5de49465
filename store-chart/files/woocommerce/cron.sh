#!/usr/bin/env bash
# Runs WordPress's due cron events, WooCommerce's Action Scheduler queue among them, from the
# store's cron CronJob (WP-CLI image, www-data). WordPress's own trigger is an HTTP request to its
# public URL, which cannot work inside the pod, so the chart sets DISABLE_WP_CRON and runs this.
# Before the setup Job installed WordPress there is nothing to run: that is a success, not an error.
set -euo pipefail
cd "${WP_PATH:-/var/www/html}"

if [ ! -s wp-config.php ]; then
  echo "no wp-config.php yet (the web pod writes it on first start): nothing to run"
  exit 0
fi
# `core is-installed` exits 1 silently when WordPress is not installed, and with a message when
# it cannot tell (e.g. the database is unreachable), which must fail the run.
if ! said=$(wp core is-installed 2>&1); then
  if [ -n "$said" ]; then
    echo "$said" >&2
    exit 1
  fi
  echo "WordPress is not installed yet (the setup Job installs it): nothing to run"
  exit 0
fi
wp cron event run --due-now
