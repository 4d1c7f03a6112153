#!/usr/bin/env bash
# `kind` as the suite runs it (test/e2e/kind*.test.ts puts a `kind` symlink to this script first on PATH, so the
# commands of docs/install.md run unchanged): the kind binary and node image chosen by test/kind/build.sh
# ($KIND_CACHE/state.env), and for `kind create cluster --config FILE` FILE plus the test-only patches this machine
# needs (patch-*.yaml beside this script, each commented). On an ordinary Docker host (stock mode, cgroup v2)
# nothing is added but the node image.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
# shellcheck disable=SC1091
source "$KIND_CACHE/state.env"
if [ "${1:-}" = create ] && [ "${2:-}" = cluster ]; then
  args=() cfg=""
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --config) cfg="$2"; shift 2 ;;
      --config=*) cfg="${1#--config=}"; shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  if [ -n "$cfg" ]; then
    merged="$(mktemp /tmp/kubekms-kind-config.XXXXXX.yaml)"
    cat "$cfg" >"$merged"
    [ "$MODE" = local ] && cat "$here/patch-local-cni.yaml" >>"$merged"
    [ "$CGROUPV1" = 1 ] && cat "$here/patch-cgroupv1.yaml" >>"$merged"
    args+=(--config "$merged")
  fi
  rc=0
  "$KIND" create cluster --image "$NODE_IMAGE" "${args[@]}" || rc=$?
  [ -z "$cfg" ] || rm -f "$merged"
  exit "$rc"
fi
exec "$KIND" "$@"
