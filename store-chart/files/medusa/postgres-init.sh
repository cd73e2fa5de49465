#!/usr/bin/env bash
# Run once by the official postgres image's entrypoint on an empty data directory
# (/docker-entrypoint-initdb.d): creates the store's own role and database, owned by that role, so
# Medusa never connects as the superuser. psql variables keep the values out of the SQL text.
set -euo pipefail
: "${MEDUSA_DB_USER:?}" "${MEDUSA_DB_NAME:?}" "${MEDUSA_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  --set user="$MEDUSA_DB_USER" --set password="$MEDUSA_DB_PASSWORD" --set db="$MEDUSA_DB_NAME" <<'EOSQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
EOSQL
