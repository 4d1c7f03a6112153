#!/usr/bin/env bash
# Start a developer control plane (etcd + KMS plugin + kube-apiserver) in ${KUBEKMS_CLUSTER_DIR:-/tmp/kubekms-cluster}.
# Builds the binaries on a cache miss. Prints the kubeconfig path. See README.md for the env knobs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if [ "${KUBEKMS_KUBE_VERSION:-1.36}" = "1.31" ]; then
  "$here/build.sh" etcd; "$here/build.sh" kube-v1.36; "$here/build.sh" kube-v1.31
else
  "$here/build.sh" etcd; "$here/build.sh" kube-v1.36
fi
# shellcheck source=/dev/null
source "$repo/scripts/node-env.sh"
exec node "$here/up.ts"
