#!/usr/bin/env bash
# Build the real control-plane binaries from the Go module proxy, only on a cache miss.
#   test/controlplane/build.sh [all|kube-v1.36|kube-v1.31|etcd]      (default: all)
# Output: ${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin/<component>-<version>/
#   kube-apiserver-v1.36.3/{kube-apiserver,kubectl}  kube-apiserver-v1.31.14/kube-apiserver
#   etcd-v3.6.16/{etcd,etcdctl}
# Needs only Go >= 1.26 and the module proxy. Uses the committed go.mod/go.sum (-mod=readonly),
# so no checksum-DB lookups. Each build goes into a temp dir next to the target which is then
# renamed into place: an interrupted build never leaves a partial directory behind (a killed build may leave a
# bin/.tmp-* dir, which is never used and can be deleted). Concurrent runs are serialized with flock.
# Env: KUBEKMS_CACHE, GO (go binary), KUBEKMS_BUILD_FORCE=1 (rebuild even on a hit).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"
if [ -z "${GO:-}" ]; then
  if command -v go >/dev/null 2>&1; then GO=go; elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else echo "build.sh: no Go toolchain found (set GO=/path/to/go)" >&2; exit 1; fi
fi
CACHE="${KUBEKMS_CACHE:-$HOME/.cache/kubekms}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

# build_component <name> <version> <module dir> <tags> <ldflags> <output:importpath>...
build_component() {
  local name="$1" version="$2" moddir="$3" tags="$4" ldflags="$5"; shift 5
  local out="$BIN/$name-$version" spec tmp start secs names=() lockfd=""
  for spec in "$@"; do names+=("${spec%%:*}"); done
  if cache_hit "$out" "${names[@]}"; then echo "cache hit: $out (${names[*]})"; return 0; fi
  # Serialize concurrent builds of the same component (two test runs starting at once): the second one
  # waits, then finds the cache filled.
  if command -v flock >/dev/null 2>&1; then
    exec {lockfd}>"$BIN/.lock-$name-$version"
    flock "$lockfd"
    if cache_hit "$out" "${names[@]}"; then
      echo "cache hit: $out (${names[*]}; built by a concurrent run)"; exec {lockfd}>&-; return 0
    fi
  fi
  echo "building ${names[*]} $version into $out ..."
  tmp="$(mktemp -d "$BIN/.tmp-$name-$version.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  start=$(date +%s)
  for spec in "$@"; do
    (cd "$here/$moddir" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -tags="$tags" \
        -ldflags "all=$ldflags" -o "$tmp/${spec%%:*}" "${spec#*:}")
  done
  "$tmp/${names[0]}" --version >"$tmp/VERSION" 2>&1 || true
  secs=$(( $(date +%s) - start ))
  echo "go=$($GO env GOVERSION) built=$(date -u +%FT%TZ) seconds=$secs" >>"$tmp/VERSION"
  chmod 755 "$tmp"
  # Atomic replace: rename the finished dir into place (an old one, if forced, is moved aside first).
  if [ -d "$out" ]; then mv -T "$out" "$tmp.old"; fi
  mv -T "$tmp" "$out"
  rm -rf "$tmp.old"
  trap - EXIT
  if [ -n "$lockfd" ]; then exec {lockfd}>&-; fi
  echo "built ${names[*]} $version in $secs s"
}

# cache_hit <dir> <binary>...: all binaries present and executable (KUBEKMS_BUILD_FORCE=1 disables hits).
cache_hit() {
  local out="$1" n; shift
  [ -z "${KUBEKMS_BUILD_FORCE:-}" ] && [ -d "$out" ] || return 1
  for n in "$@"; do [ -x "$out/$n" ] || return 1; done
}

kube_ldflags() { # version flags exactly as hack/lib/version.sh stamps them
  local kv="$1" minor ld="-s -w" p
  minor=$(echo "$kv" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

build_kube136() {
  build_component kube-apiserver "$KUBE_V136" kube-v1.36 selinux,notest "$(kube_ldflags "$KUBE_V136")" \
    kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver kubectl:k8s.io/kubernetes/cmd/kubectl
}
build_kube131() {
  build_component kube-apiserver "$KUBE_V131" kube-v1.31 selinux,notest "$(kube_ldflags "$KUBE_V131")" \
    kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver
}
build_etcd() {
  build_component etcd "$ETCD_V" etcd "" "-s -w" \
    etcd:go.etcd.io/etcd/server/v3 etcdctl:go.etcd.io/etcd/etcdctl/v3
}

case "${1:-all}" in
  all) build_etcd; build_kube136; build_kube131 ;;
  kube-v1.36) build_kube136 ;;
  kube-v1.31) build_kube131 ;;
  etcd) build_etcd ;;
  *) echo "usage: build.sh [all|kube-v1.36|kube-v1.31|etcd]" >&2; exit 2 ;;
esac
