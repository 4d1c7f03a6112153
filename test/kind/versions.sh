# Pinned versions of the kind stack (sourced by test/kind/*.sh). Kubernetes and etcd come from
# test/controlplane/versions.sh so that kube-apiserver/etcd/kubectl are the binaries that suite already built.
# shellcheck source=../controlplane/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/../controlplane/versions.sh"
KIND_V=v0.33.0          # sigs.k8s.io/kind
KIND_KUBE_V="$KUBE_V136" # node image Kubernetes version (kubeadm, kubelet, control-plane images)
COREDNS_V=v1.14.3       # github.com/coredns/coredns; tagged as the version kubeadm names (COREDNS_TAG)
COREDNS_TAG=v1.14.2     # `kubeadm config images list` for v1.36.3 (v1.14.2 itself is not served by the proxy)
CRICTL_V=v1.37.0        # sigs.k8s.io/cri-tools (cmd/crictl)
ETCD_IMAGE_TAG=3.6.8-0  # the etcd image tag kubeadm v1.36.3 names; it carries etcd $ETCD_V
PAUSE_TAGS="3.10 3.10.2" # containerd's sandbox_image (kind base config) and kubeadm's pause
DEBIAN_SUITE=bookworm
NODE_MAJOR=24           # node:24-bookworm-slim, the Dockerfile's base
NPM_MAJOR=11            # the npm major Node 24 bundles (official image)
# On an ordinary Docker host (privileged containers work, registry reachable): stock kind and this node image.
# Override with KUBEKMS_KIND_NODE_IMAGE; kind v0.33.0's own default is v1.37.0.
STOCK_NODE_IMAGE="${KUBEKMS_KIND_NODE_IMAGE:-kindest/node:$KIND_KUBE_V}"
KIND_CACHE="${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/kind"
CP_BIN="${KUBEKMS_CACHE:-$HOME/.cache/kubekms}/bin" # test/controlplane/build.sh output
NODE_IMAGE_REV=1        # part of the local node image tag: bump when build.sh changes how the image is made
