#!/usr/bin/env bash
# Installs the Medusa store's npm packages (images/medusa/package-lock.json, exactly, with `npm ci`)
# into a per-machine cache outside the repository, for the native end-to-end tests.
#
# The directory is $cache/medusa-<key>, where <key> hashes the lockfile, package.json and the Node
# major version (native add-ons such as @swc/core's binding are chosen per platform and ABI), so a
# warm machine installs nothing and a changed pin installs afresh. `medusa-deps.sh --dir` prints the
# directory and installs nothing. The key also covers scripts/prepare-node-modules.sh, which the
# image build runs too.
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

if [ "${1:-}" = "--dir" ]; then
  echo "$dir"
  exit 0
fi

if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "medusa-deps: Node $(node --version) is too old for Medusa 2.21 (needs ^20.19 or >=22.12)" >&2
  exit 1
fi
if [ -f "$dir/.complete" ]; then
  echo "medusa-deps: up to date ($dir)"
  exit 0
fi
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
