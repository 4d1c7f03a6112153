#!/usr/bin/env bash
# Build the real control-plane binaries from the Go module proxy, only on a cache miss.
#   test/controlplane/build.sh [all|kube-v1.36|kube-v1.31|kube-v1.37|etcd]...      (default: all)
# Output: ${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin/<component>-<version>/
#   kube-apiserver-v1.36.3/{kube-apiserver,kubectl}  kube-apiserver-v1.31.14/kube-apiserver
#   kube-apiserver-v1.37.2/{kube-apiserver,kube-controller-manager}
#   etcd-v3.6.16/{etcd,etcdctl}
# Needs only Go >= 1.26 and the module proxy. Uses the committed go.mod/go.sum (-mod=readonly), so no
# checksum-DB lookups. Each component's binaries are built by one `go build` into a temp dir next to the target,
# then renamed into place (build-lib.sh): an interrupted build never leaves a partial directory behind (a killed
# build may leave a bin/.tmp-* dir, which is never used and can be deleted). Concurrent runs serialize on flock.
# Env: KUBEKMS_CACHE, GO (go binary), KUBEKMS_BUILD_FORCE=1 (rebuild even on a hit).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"
BIN="${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin"

build_kube136() {
  cached_build "$BIN/kube-apiserver-$KUBE_V136" "$here/kube-v1.36" selinux,notest "$(kube_ldflags "$KUBE_V136")" \
    kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver kubectl:k8s.io/kubernetes/cmd/kubectl
}
build_kube137() { # kube-controller-manager runs the storage-version-migrator controller for the SVM suite
  cached_build "$BIN/kube-apiserver-$KUBE_V137" "$here/kube-v1.37" selinux,notest "$(kube_ldflags "$KUBE_V137")" \
    kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager
}
build_kube131() {
  cached_build "$BIN/kube-apiserver-$KUBE_V131" "$here/kube-v1.31" selinux,notest "$(kube_ldflags "$KUBE_V131")" \
    kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver
}
build_etcd() {
  cached_build "$BIN/etcd-$ETCD_V" "$here/etcd" "" "-s -w" \
    etcd:go.etcd.io/etcd/server/v3 etcdctl:go.etcd.io/etcd/etcdctl/v3
}

[ $# -gt 0 ] || set -- all
for target in "$@"; do
  case "$target" in
    all) build_etcd; build_kube136; build_kube131; build_kube137 ;;
    kube-v1.36) build_kube136 ;;
    kube-v1.31) build_kube131 ;;
    kube-v1.37) build_kube137 ;;
    etcd) build_etcd ;;
    *) echo "usage: build.sh [all|kube-v1.36|kube-v1.31|kube-v1.37|etcd]..." >&2; exit 2 ;;
  esac
done
