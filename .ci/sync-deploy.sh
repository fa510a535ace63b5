#!/usr/bin/env bash
# Regenerates the deployment files that are copies of others, so that each has one source:
#   deploy/helm/antfly-operator/crds/antfly.io.yaml  <- crds/antfly.io.yaml
#   deploy/kustomize/base/operator.yaml              <- the Helm chart with default values
# Run it after changing the CRDs or the chart; host/operator/tests/deploy.rs fails while
# either copy is stale. With --print, writes the rendered operator.yaml to stdout instead.
#
# Usage: bash .ci/sync-deploy.sh [--print]
set -euo pipefail
cd "$(dirname "$0")/.."

helm="${ANTFLY_HELM:-$(bash .ci/helm.sh | tail -n 1)}"

render_base() {
  printf '%s\n' \
    "# Generated from deploy/helm/antfly-operator (default values, namespace antfly-system)" \
    "# by .ci/sync-deploy.sh; do not edit. Customise it with a kustomize overlay."
  # Helm's own bookkeeping labels would claim that Helm manages these objects.
  "$helm" template antfly-operator deploy/helm/antfly-operator --namespace antfly-system |
    grep -v -e '^ *app.kubernetes.io/managed-by: Helm$' -e '^ *helm.sh/chart: '
}

case "${1:-}" in
  --print)
    render_base
    ;;
  "")
    cp crds/antfly.io.yaml deploy/helm/antfly-operator/crds/antfly.io.yaml
    render_base >deploy/kustomize/base/operator.yaml
    echo "sync-deploy: wrote deploy/helm/antfly-operator/crds/antfly.io.yaml and deploy/kustomize/base/operator.yaml" >&2
    ;;
  *)
    echo "usage: $0 [--print]" >&2
    exit 2
    ;;
esac
