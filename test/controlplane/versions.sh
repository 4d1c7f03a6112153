# Pinned versions of the real control-plane binaries (sourced by build.sh, regen.sh, up.sh).
# Changing one requires `test/controlplane/regen.sh <component>` and committing go.mod/go.sum.
KUBE_V136=v1.36.3
KUBE_V131=v1.31.14
ETCD_V=v3.6.16
