#!/bin/sh
# Sets up (or converges) one Medusa store: wait for PostgreSQL, run the migrations, then the seed
# (src/scripts/setup.ts). The chart's set-up Job and the native tests run this same script; it is
# idempotent, so running it again after a success changes nothing.
#
# `setup.sh migrate` stops after the migrations: the web pod's init container runs that, because
# `medusa start` refuses to boot on a database its modules' tables are missing from.
#
# Every step prints "== <step>"; a failure exits 1 with "setup FAILED at step '<step>': <reason>".
# Environment: DATABASE_URL, JWT_SECRET, COOKIE_SECRET, ADMIN_EMAIL, ADMIN_PASSWORD (required);
# WAIT_SECONDS (default 120) and the store values read by src/scripts/setup.ts.
set -eu
cd "$(dirname "$0")/.."
medusa=./node_modules/.bin/medusa

fail() {
  echo "setup FAILED at step '$1': $2" >&2
  exit 1
}

echo "== database"
node scripts/wait-for-database.mjs || fail database "PostgreSQL did not accept a connection within ${WAIT_SECONDS:-120} s"

echo "== migrations"
# Under a lock shared with the web pod's init container, which migrates at the same moment.
status=0
node scripts/with-migration-lock.mjs $medusa db:migrate || status=$?
[ "$status" -eq 0 ] || fail migrations "medusa db:migrate exited ${status}"
if [ "${1:-}" = "migrate" ]; then
  echo "migrations complete"
  exit 0
fi

echo "== seed"
# setup.ts prints its own failing step; this line only adds the exit status.
status=0
$medusa exec ./src/scripts/setup.ts || status=$?
[ "$status" -eq 0 ] || fail seed "medusa exec src/scripts/setup.ts exited ${status} (the step is named above)"
echo "setup complete"
