# Pinned versions of the real control-plane binaries (sourced by build.sh, regen.sh, up.sh).
# Changing one requires `test/controlplane/regen.sh <component>` and committing go.mod/go.sum.
KUBE_V136=v1.36.3
KUBE_V131=v1.31.14
# StorageVersionMigration (storagemigration.k8s.io/v1) is GA and on by default from 1.37; its suite also runs
# kube-controller-manager (the storage-version-migrator controller).
KUBE_V137=v1.37.2
ETCD_V=v3.6.16
