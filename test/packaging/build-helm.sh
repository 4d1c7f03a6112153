#!/usr/bin/env bash
# Build helm from the Go module proxy, only on a cache miss. Prints the path of the helm binary (last line).
#   test/packaging/build-helm.sh
# Output: ${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin/helm-<ver>/helm. Uses the committed helm/go.mod + go.sum
# (-mod=readonly, no checksum-DB lookups); builds into a temp dir renamed into place; concurrent runs serialize
# on flock. To bump: edit HELM_VERSION, then in helm/: rm go.mod go.sum; go mod init ...; go get -tool
# helm.sh/helm/v3/cmd/helm@NEW; go mod tidy.
set -euo pipefail
HELM_VERSION=v3.21.4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${GO:-}" ]; then
  if command -v go >/dev/null 2>&1; then GO=go; elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else echo "build-helm.sh: no Go toolchain found (set GO=/path/to/go)" >&2; exit 1; fi
fi
BIN="${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin"
out="$BIN/helm-$HELM_VERSION"
mkdir -p "$BIN"
if [ -x "$out/helm" ]; then echo "$out/helm"; exit 0; fi
exec {lockfd}>"$BIN/.lock-helm-$HELM_VERSION"
flock "$lockfd"
if [ -x "$out/helm" ]; then echo "$out/helm"; exit 0; fi
tmp="$(mktemp -d "$BIN/.tmp-helm-$HELM_VERSION.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building helm $HELM_VERSION into $out ..." >&2
# As helm's Makefile: the default Kubernetes version of `helm template`/`lint` is that of its client-go.
k8s=$(awk '$1 == "k8s.io/client-go" {print $2}' "$here/helm/go.mod")   # v0.36.2 -> 1.36
minor=$(echo "$k8s" | cut -d. -f2)
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
done
(cd "$here/helm" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags "$ld" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)
echo "go=$("$GO" env GOVERSION) seconds=$(( $(date +%s) - start ))" >"$tmp/VERSION"
chmod 755 "$tmp"
mv -T "$tmp" "$out"
trap - EXIT
echo "built helm $HELM_VERSION in $(( $(date +%s) - start )) s" >&2
echo "$out/helm"
