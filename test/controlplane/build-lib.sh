#!/usr/bin/env bash
# Shared shape of the Go builds (sourced by test/controlplane/build.sh and test/kind/build.sh): find Go, stamp
# Kubernetes versions, and build a set of binaries in ONE `go build` invocation into a temp dir that is renamed
# into place when complete (a cache hit is a directory holding every binary; concurrent runs serialize on flock).

if [ -z "${GO:-}" ]; then
  if command -v go >/dev/null 2>&1; then GO=go; elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else echo "build: no Go toolchain found (set GO=/path/to/go)" >&2; exit 1; fi
fi

kube_ldflags() { # <vX.Y.Z>: version flags exactly as hack/lib/version.sh stamps them
  local kv="$1" minor ld="-s -w" p
  minor=$(echo "$kv" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

# cache_hit <dir> <binary>...: all binaries present and executable (KUBEKMS_BUILD_FORCE=1 disables hits).
cache_hit() {
  local out="$1" n; shift
  [ -z "${KUBEKMS_BUILD_FORCE:-}" ] && [ -d "$out" ] || return 1
  for n in "$@"; do [ -x "$out/$n" ] || return 1; done
}

# The file name `go build -o DIR/` gives a main package: its last path element, or the one before a /vN suffix.
go_out_name() {
  local p="$1" last="${1##*/}"
  if [[ "$last" =~ ^v[0-9]+$ ]]; then p="${p%/*}"; last="${p##*/}"; fi
  echo "$last"
}

# cached_build <out dir> <module dir> <tags> <ldflags> <name:importpath>...: on a miss, one `go build` of every
# package (so shared packages are compiled once and the links run in parallel) into a temp dir next to <out dir>,
# each binary renamed to <name>, a VERSION file written, then the dir renamed into place. Logs `cache hit: …` or
# `built <names> in N s`.
cached_build() {
  local out="$1" moddir="$2" tags="$3" ldflags="$4"; shift 4
  local spec names=() pkgs=() tmp start secs lockfd=""
  for spec in "$@"; do names+=("${spec%%:*}"); pkgs+=("${spec#*:}"); done
  if cache_hit "$out" "${names[@]}"; then echo "cache hit: $out (${names[*]})"; return 0; fi
  mkdir -p "$(dirname "$out")"
  if command -v flock >/dev/null 2>&1; then # a concurrent run of the same build: wait, then find it cached
    exec {lockfd}>"$(dirname "$out")/.lock-$(basename "$out")"
    flock "$lockfd"
    if cache_hit "$out" "${names[@]}"; then
      echo "cache hit: $out (${names[*]}; built by a concurrent run)"; exec {lockfd}>&-; return 0
    fi
  fi
  echo "building ${names[*]} into $out ..."
  tmp="$(mktemp -d "$(dirname "$out")/.tmp-$(basename "$out").XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  start=$(date +%s)
  (cd "$moddir" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -tags="$tags" -ldflags "all=$ldflags" \
    -o "$tmp/" "${pkgs[@]}")
  for spec in "$@"; do
    local built; built="$(go_out_name "${spec#*:}")"
    [ "$built" = "${spec%%:*}" ] || mv "$tmp/$built" "$tmp/${spec%%:*}"
  done
  "$tmp/${names[0]}" --version >"$tmp/VERSION" 2>&1 || true
  secs=$(( $(date +%s) - start ))
  echo "go=$("$GO" env GOVERSION) built=$(date -u +%FT%TZ) seconds=$secs" >>"$tmp/VERSION"
  chmod 755 "$tmp"
  # Atomic replace: rename the finished dir into place (an old one, if forced or partial, is moved aside first).
  if [ -d "$out" ]; then mv -T "$out" "$tmp.old"; fi
  mv -T "$tmp" "$out"
  rm -rf "$tmp.old"
  trap - EXIT
  if [ -n "$lockfd" ]; then exec {lockfd}>&-; fi
  echo "built ${names[*]} into $out in $secs s"
}
