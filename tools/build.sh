#!/usr/bin/env bash
# Builds the simulated cluster's binaries (etcd, kube-*, kubectl, kwok), helm, and the checkers the
# tests run on the release workflow (actionlint) and the Compose files (composecheck, compose-go's
# loader) from the pinned Go modules under tools/, into a per-machine cache outside the repository.
#
# Each component lands in $cache/<component>-<key>, where <key> hashes everything that decides its
# bytes (go.mod, go.sum, tools.go, the ldflags, the Go version), so a second build is a no-op and a
# changed pin rebuilds only that component. `build.sh --bin-dir` prints the bin directory and builds
# nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${STOREPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storeplane}
go_version=$(go env GOVERSION)

component_key() {
  { cat "$here/$1/go.mod" "$here/$1/go.sum" "$here/$1"/*.go; echo "$go_version"; ldflags_for "$1"; } \
    | sha256sum | cut -c1-16
}

# The version stamps; without them kube-apiserver reports v0.0.0 and charts with kubeVersion break.
ldflags_for() {
  case $1 in
    kube)
      local minor=${K8S_VERSION#v1.} flags="-s -w"
      minor=${minor%%.*}
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
        flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
      done
      echo "$flags" ;;
    etcd) echo "-s -w" ;;
    helm) echo "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" ;;
    kwok) echo "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" ;;
    actionlint|composecheck) echo "-s -w" ;;
  esac
}

# The bin directory is named after the cluster's components only: the checkers are linked into it
# too, and a change of their pins rebuilds and relinks them without moving the directory.
bin_dir() {
  local combined
  combined=$(for c in kube etcd helm kwok; do component_key "$c"; done | sha256sum | cut -c1-16)
  echo "$cache/bin-$combined"
}

# build <component> <packages...>
build() {
  local component=$1; shift
  local key out
  key=$(component_key "$component")
  out="$cache/$component-$key"
  if [ -f "$out/.complete" ]; then
    echo "tools: $component up to date ($out)"
    return
  fi
  echo "tools: building $component into $out"
  local start=$SECONDS
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$here/$component" && CGO_ENABLED=0 go build -trimpath -ldflags "$(ldflags_for "$component")" -o "$out.tmp/" "$@")
  # go names the etcd server binary after its package directory.
  if [ -f "$out.tmp/server" ]; then mv "$out.tmp/server" "$out.tmp/etcd"; fi
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "tools: built $component in $((SECONDS - start)) s"
}

link_all() {
  local dir
  dir=$(bin_dir)
  mkdir -p "$dir"
  for c in kube etcd helm kwok actionlint composecheck; do
    local src="$cache/$c-$(component_key "$c")"
    for f in "$src"/*; do ln -sfn "$f" "$dir/$(basename "$f")"; done
  done
  kwok_stages "$dir/kwok-stages.yaml"
  # The pins these binaries were built from; the launcher compares them with versions.env.
  cp "$here/versions.env" "$dir/versions.env"
  echo "tools: binaries in $dir"
}

# KWOK v0.8 has no built-in stages: assemble its stock node, pod-ready, pod-delete and volume stages
# from the pinned module. Storeplane's own pod-finishing stages live in app/simcluster/stages.yaml.
kwok_stages() {
  local src first=1
  src=$(cd "$here/kwok" && go mod download sigs.k8s.io/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  src="$src/kustomize/stage"
  {
    for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml volume/fast/pvc-provision.yaml \
      volume/fast/pv-bind.yaml volume/fast/pvc-delete.yaml volume/fast/pv-delete.yaml; do
      [ $first = 1 ] || echo "---"
      first=0
      echo "# from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage/$stage"
      cat "$src/$stage"
    done
  } > "$1"
}

if [ "${1:-}" = "--bin-dir" ]; then bin_dir; exit 0; fi

mkdir -p "$cache"
build kube k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build etcd go.etcd.io/etcd/server/v3
build helm helm.sh/helm/v4/cmd/helm
build kwok sigs.k8s.io/kwok/cmd/kwok
build actionlint github.com/rhysd/actionlint/cmd/actionlint
build composecheck .
link_all
