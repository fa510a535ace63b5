#!/usr/bin/env bash
# Ensures that a real kube-apiserver, kube-controller-manager and etcd, built from
# source with the machine's Go toolchain, are cached under
# .cache/control-plane/<version>/bin.
#
# The versions come from the Go modules in tests/control-plane/:
#   tests/control-plane/kube-apiserver/go.mod  (k8s.io/kubernetes vX.Y.Z)
#   tests/control-plane/etcd/go.mod            (go.etcd.io/etcd/server/v3 vX.Y.Z)
# When both binaries and a matching VERSIONS stamp exist, the script exits at
# once. Progress goes to stderr; the last line on stdout is the bin directory,
# which is what host/envtest (antfly-envtest) looks for, or what
# ANTFLY_CONTROL_PLANE_BIN may point at.
#
# Usage: bash .ci/control-plane.sh [--force]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
src_dir="$repo_root/tests/control-plane"

log() { printf 'control-plane: %s\n' "$*" >&2; }

# The version of the module named $2 required by the go.mod file $1.
required_version() {
  local version
  version="$(awk -v mod="$2" '($1 == mod || ($1 == "require" && $2 == mod)) {
      v = ($1 == "require") ? $3 : $2
      if (v ~ /^v[0-9]/) { print v; exit }
    }' "$1")"
  if [[ -z "$version" ]]; then
    log "cannot find the version of $2 in $1"
    exit 1
  fi
  printf '%s\n' "$version"
}

kube_version="$(required_version "$src_dir/kube-apiserver/go.mod" k8s.io/kubernetes)"
etcd_version="$(required_version "$src_dir/etcd/go.mod" go.etcd.io/etcd/server/v3)"

dest="$repo_root/.cache/control-plane/$kube_version"
bin_dir="$dest/bin"
stamp="kube-apiserver $kube_version
kube-controller-manager $kube_version
etcd $etcd_version"

is_ready() {
  [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/kube-controller-manager" &&
    -x "$bin_dir/etcd" && -f "$dest/VERSIONS" ]] &&
    [[ "$(<"$dest/VERSIONS")" == "$stamp" ]]
}

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
elif [[ $# -gt 0 ]]; then
  log "usage: $0 [--force]"
  exit 2
fi

if [[ $force -eq 0 ]] && is_ready; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

mkdir -p "$dest"
# Two concurrent runs (say, two test jobs) must not build over each other.
exec 9>"$dest/.lock"
if ! flock -n 9; then
  log "another build holds $dest/.lock; waiting for it"
  flock 9
fi
if [[ $force -eq 0 ]] && is_ready; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "the Go toolchain (go) is not on PATH; it is needed to build kube-apiserver and etcd"
  exit 1
fi

staging="$(mktemp -d "$dest/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

export CGO_ENABLED=0
# Each module builds on its own, whatever go.work may sit above it.
export GOWORK=off
start=$SECONDS

# Same -X flags as the Kubernetes release build, so /version reports the
# real release instead of v0.0.0-master.
kube_minor="${kube_version#v1.}"
kube_minor="${kube_minor%%.*}"
version_pkg=k8s.io/component-base/version
kube_ldflags="-s -w \
-X $version_pkg.gitVersion=$kube_version \
-X $version_pkg.gitMajor=1 \
-X $version_pkg.gitMinor=$kube_minor \
-X $version_pkg.gitTreeState=clean \
-X $version_pkg.buildDate=1970-01-01T00:00:00Z"

# -dwarf=false: the linker's -w drops DWARF anyway; not generating it at all
# saves about a fifth of the compile time.
build_flags=(-trimpath "-gcflags=all=-dwarf=false")

log "building etcd $etcd_version, kube-apiserver and kube-controller-manager $kube_version with $(go version)"
log "(9 to 12 minutes on 2 busy cores with a cold Go build cache; seconds with a warm one)"
# Both at once: etcd's compile overlaps kube-apiserver's single-threaded link.
(cd "$src_dir/etcd" &&
  go build "${build_flags[@]}" -ldflags="-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3 &&
  log "etcd built after $((SECONDS - start))s") &
etcd_pid=$!
# One go build for both Kubernetes commands: they share most of their packages.
(cd "$src_dir/kube-apiserver" &&
  go build "${build_flags[@]}" -ldflags="$kube_ldflags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager &&
  log "kube-apiserver and kube-controller-manager built after $((SECONDS - start))s") || {
  log "building kube-apiserver or kube-controller-manager failed"
  wait "$etcd_pid" || true
  exit 1
}
if ! wait "$etcd_pid"; then
  log "building etcd failed"
  exit 1
fi

"$staging/etcd" --version >&2
"$staging/kube-apiserver" --version >&2
"$staging/kube-controller-manager" --version >&2

mkdir -p "$bin_dir"
mv -f "$staging/etcd" "$bin_dir/etcd"
mv -f "$staging/kube-apiserver" "$bin_dir/kube-apiserver"
mv -f "$staging/kube-controller-manager" "$bin_dir/kube-controller-manager"
printf '%s\n' "$stamp" >"$dest/VERSIONS"
log "done in $((SECONDS - start))s"
printf '%s\n' "$bin_dir"
