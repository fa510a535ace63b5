#!/usr/bin/env bash
# Ensures that the Helm CLI, built from source with the machine's Go toolchain,
# is cached at .cache/helm/<version>/bin/helm.
#
# The version comes from the Go module in tests/helm/go.mod
# (helm.sh/helm/v3 vX.Y.Z). When the binary and a matching VERSION stamp
# exist, the script exits at once. Progress goes to stderr; the last line on
# stdout is the path of the helm binary.
#
# Usage: bash .ci/helm.sh [--force]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
src_dir="$repo_root/tests/helm"

log() { printf 'helm: %s\n' "$*" >&2; }

helm_version="$(awk '($1 == "helm.sh/helm/v3" && $2 ~ /^v[0-9]/) { print $2; exit }' "$src_dir/go.mod")"
if [[ -z "$helm_version" ]]; then
  log "cannot find the version of helm.sh/helm/v3 in $src_dir/go.mod"
  exit 1
fi

# The Kubernetes version Helm assumes offline (`helm template`, `helm lint`) is that of its
# client-go, as Helm's own Makefile sets it: v0.35.x means Kubernetes 1.35.
client_go="$(awk '($1 == "k8s.io/client-go" && $2 ~ /^v0\.[0-9]+\./) { print $2; exit }' "$src_dir/go.mod")"
kube_minor="${client_go#v0.}"
kube_minor="${kube_minor%%.*}"
if [[ -z "$client_go" || -z "$kube_minor" ]]; then
  log "cannot find the version of k8s.io/client-go in $src_dir/go.mod"
  exit 1
fi

dest="$repo_root/.cache/helm/$helm_version"
helm_bin="$dest/bin/helm"
stamp="helm $helm_version
kubernetes 1.$kube_minor"

is_ready() {
  [[ -x "$helm_bin" && -f "$dest/VERSION" && "$(<"$dest/VERSION")" == "$stamp" ]]
}

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
elif [[ $# -gt 0 ]]; then
  log "usage: $0 [--force]"
  exit 2
fi

if [[ $force -eq 0 ]] && is_ready; then
  printf '%s\n' "$helm_bin"
  exit 0
fi

mkdir -p "$dest"
exec 9>"$dest/.lock"
if ! flock -n 9; then
  log "another build holds $dest/.lock; waiting for it"
  flock 9
fi
if [[ $force -eq 0 ]] && is_ready; then
  printf '%s\n' "$helm_bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "the Go toolchain (go) is not on PATH; it is needed to build helm"
  exit 1
fi

staging="$(mktemp -d "$dest/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

export CGO_ENABLED=0 GOWORK=off
start=$SECONDS
# The -X flags are those Helm's own release build sets, so `helm version`
# reports the real release and offline rendering assumes Kubernetes 1.$kube_minor.
log "building helm $helm_version with $(go version) (about 2 minutes on 2 cores with a cold Go build cache)"
(cd "$src_dir" &&
  go build -trimpath "-gcflags=all=-dwarf=false" \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kube_minor \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kube_minor" \
    -o "$staging/helm" helm.sh/helm/v3/cmd/helm)
"$staging/helm" version --short >&2

mkdir -p "$dest/bin"
mv -f "$staging/helm" "$helm_bin"
printf '%s\n' "$stamp" >"$dest/VERSION"
log "done in $((SECONDS - start))s"
printf '%s\n' "$helm_bin"
