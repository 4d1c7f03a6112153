#!/usr/bin/env bash
# (Re)generate a wrapper module's go.mod/go.sum. Only needed to bump a version; the result is committed
# and build.sh uses it with -mod=readonly. Usage: regen.sh kube-v1.37|kube-v1.36|kube-v1.31|etcd
# Kube wrappers: staging list derived from k8s.io/kubernetes' own go.mod (every `k8s.io/* v0.0.0`
# requirement), each replaced by its published v0.Y.Z; godebug mirrors k8s' own `godebug` line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
comp="${1:?usage: regen.sh kube-v1.37|kube-v1.36|kube-v1.31|etcd}"
source "$here/versions.sh"

regen_kube() {
  local dir="$1" kv="$2" tools="$3" sv gomod staging gd gl m t
  sv="v0.${kv#v1.}"
  mkdir -p "$here/$dir" && cd "$here/$dir"
  rm -f go.mod go.sum
  "$GO" mod init "kubekms.invalid/test/controlplane/$dir"
  gomod=$("$GO" mod download -json "k8s.io/kubernetes@$kv" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u)
  echo "k8s $kv: $(grep -m1 '^go ' "$gomod"); $(grep -m1 '^godebug' "$gomod" || echo 'no godebug'); $(echo "$staging" | wc -l) staging modules"
  for m in $staging; do "$GO" mod edit -replace="$m=$m@$sv"; done
  gd=$(sed -n 's/^godebug[[:space:]]*default=\(go1\.[0-9]*\).*/\1/p' "$gomod" | head -1)
  # No godebug line (k8s <= 1.31): its GODEBUG defaults came from its go line (go 1.22.0 -> go1.22).
  # Our go line must be >= 1.24 for the `tool` directive, so pin the old defaults explicitly.
  if [ -z "$gd" ]; then gd=$(awk '$1 == "go" {split($2, v, "."); print "go" v[1] "." v[2]; exit}' "$gomod"); fi
  for t in $tools; do "$GO" get -tool "k8s.io/kubernetes/cmd/$t@$kv"; done
  # go line: k8s' own (the `tool` directive needs >= 1.24); tidy raises it again if a dependency needs more.
  gl=$(awk '$1 == "go" {print $2; exit}' "$gomod")
  if [ "$(printf '%s\n1.24.0\n' "$gl" | sort -V | head -1)" != "1.24.0" ]; then gl=1.24.0; fi
  "$GO" mod edit -go="$gl"
  "$GO" mod tidy
  if [ -n "$gd" ]; then "$GO" mod edit -godebug="default=$gd"; fi
  "$GO" mod verify
  grep -E '^(go|godebug) ' go.mod
}

case "$comp" in
  kube-v1.36) regen_kube kube-v1.36 "$KUBE_V136" "kube-apiserver kubectl" ;;
  kube-v1.31) regen_kube kube-v1.31 "$KUBE_V131" "kube-apiserver" ;;
  kube-v1.37) regen_kube kube-v1.37 "$KUBE_V137" "kube-apiserver kube-controller-manager" ;;
  etcd)
    mkdir -p "$here/etcd" && cd "$here/etcd"
    rm -f go.mod go.sum
    "$GO" mod init kubekms.invalid/test/controlplane/etcd
    "$GO" get -tool "go.etcd.io/etcd/server/v3@$ETCD_V" "go.etcd.io/etcd/etcdctl/v3@$ETCD_V"
    # go line = etcd server's own (not the local toolchain's patch level), so older go1.26.x can build.
    gomod=$("$GO" mod download -json "go.etcd.io/etcd/server/v3@$ETCD_V" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    "$GO" mod edit -go="$(awk '$1 == "go" {print $2; exit}' "$gomod")"
    "$GO" mod tidy
    "$GO" mod verify
    ;;
  *) echo "unknown component $comp" >&2; exit 2 ;;
esac
