# Shared helpers of the kind harness (sourced by build.sh, up.sh, down.sh).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
log() { echo "[kind $(date -u +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Content hash of the files a locally built image depends on (cache key next to the versions).
files_hash() { cat "$@" | sha256sum | cut -c1-12; }

# The mode file written by build.sh: MODE=stock|local, NOPRIV=0|1, KIND=<binary>, NODE_IMAGE=<image>,
# CGROUPV1=0|1. up.sh reads it.
STATE="$KIND_CACHE/state.env"

# Does the engine start --privileged containers? $1: an image present locally.
privileged_works() {
  docker run --rm --privileged --entrypoint /bin/true "$1" >/dev/null 2>&1 ||
    docker run --rm --privileged --entrypoint /pause "$1" -v >/dev/null 2>&1
}
