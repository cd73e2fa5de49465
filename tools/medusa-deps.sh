#!/usr/bin/env bash
# Installs the Medusa store's npm packages (images/medusa/package-lock.json, exactly, with `npm ci`)
# into a per-machine cache outside the repository, and builds its admin dashboard there, for the
# native end-to-end tests.
#
# The directory is $cache/medusa-<key>, where <key> hashes the lockfile, package.json,
# scripts/prepare-node-modules.sh (which the image build runs too) and the Node major version (native
# add-ons such as @swc/core's binding are chosen per platform and ABI), so a warm machine installs
# nothing and a changed pin installs afresh. The admin build (`medusa build --admin-only`, as in
# the image) lands in <dir>/admin-<key2>, where <key2> also covers medusa-config.ts.
#   medusa-deps.sh --dir         prints the directory, installs nothing
#   medusa-deps.sh --admin-dir   prints the admin build's directory, builds nothing
#
# Install scripts are not run (`--ignore-scripts`), here and in the image: the packages that have
# them (esbuild, @swc/core, protobufjs, msgpackr-extract) ship their binaries as optional
# dependencies and only verify or optimise in their scripts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app="$here/../images/medusa"
cache=${STOREPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storeplane}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "medusa-deps: node and npm are required (Node ^20.19 or >=22.12, as @medusajs/medusa's engines say)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
key=$({ cat "$app/package-lock.json" "$app/package.json" "$app/scripts/prepare-node-modules.sh"; echo "node$node_major"; } \
  | sha256sum | cut -c1-16)
dir="$cache/medusa-$key"
admin_key=$({ echo "$key"; cat "$app/medusa-config.ts" "$app/tsconfig.json"; } | sha256sum | cut -c1-16)
admin="$dir/admin-$admin_key"

case "${1:-}" in
  --dir) echo "$dir"; exit 0 ;;
  --admin-dir) echo "$admin"; exit 0 ;;
esac

if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "medusa-deps: Node $(node --version) is too old for Medusa 2.21 (needs ^20.19 or >=22.12)" >&2
  exit 1
fi

if [ -f "$dir/.complete" ]; then
  echo "medusa-deps: packages up to date ($dir)"
else
  echo "medusa-deps: npm ci into $dir"
  start=$SECONDS
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  cp "$app/package.json" "$app/package-lock.json" "$dir.tmp/"
  (cd "$dir.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  # The same preparation as the image, so the native tests can prove nothing writes to node_modules.
  sh "$app/scripts/prepare-node-modules.sh" "$dir.tmp"
  touch "$dir.tmp/.complete"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  echo "medusa-deps: installed in $((SECONDS - start)) s"
fi

if [ -f "$admin/index.html" ]; then
  echo "medusa-deps: admin build up to date ($admin)"
  exit 0
fi
echo "medusa-deps: building the admin dashboard into $admin"
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$app/package.json" "$app/medusa-config.ts" "$app/tsconfig.json" "$app/src" "$work/"
ln -s "$dir/node_modules" "$work/node_modules"
# Telemetry off in the CLI's own settings too: MEDUSA_DISABLE_TELEMETRY stops the events, this also
# stops the CLI from forking its (then empty) detached sender, which would outlive this script.
mkdir -p "$work/home/.config/medusa"
echo '{"telemetry": {"enabled": false}}' >"$work/home/.config/medusa/config.json"
# As in the image's admin stage: medusa-config.ts only needs its variables to be set.
(cd "$work" && env HOME="$work/home" DATABASE_URL=postgres://build@localhost/build JWT_SECRET=build-only \
  COOKIE_SECRET=build-only MEDUSA_DISABLE_TELEMETRY=true ./node_modules/.bin/medusa build --admin-only >"$work/build.log" 2>&1) \
  || { echo "medusa-deps: the admin build failed:" >&2; tail -40 "$work/build.log" >&2; exit 1; }
# Staged under a name the clean-up's admin-* does not match (admin-<key>.tmp did: a cold machine's
# first build was deleted before it was moved into place).
rm -rf "$dir/.admin-staging" && mv "$work/.medusa/admin" "$dir/.admin-staging"
rm -rf "$dir"/admin-* && mv "$dir/.admin-staging" "$admin"   # older builds of this lockfile go
echo "medusa-deps: admin built in $((SECONDS - start)) s"
