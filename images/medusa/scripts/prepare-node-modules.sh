#!/bin/sh
# Makes node_modules ready to be read-only: MikroORM's migrator creates `<module>/dist/migrations`
# (fs-extra ensureDir) for every Medusa module that ships none, the first time migrations run. On a
# read-only root filesystem that mkdir fails, so the image build (and the native test cache, to
# prove the same) creates the directories up front; an existing directory needs no write.
set -eu
cd "${1:-.}"
for dist in node_modules/@medusajs/*/dist; do
  [ -d "$dist" ] && mkdir -p "$dist/migrations"
done
