#!/bin/bash
# Locally built kind node image only, when the engine refuses --privileged (test/kind/build.sh): without it Docker
# mounts /sys and the cgroup hierarchies read-only, and kubelet cannot create its cgroups. Runs before kind's
# entrypoint. `remount,bind,rw` because a plain `remount,rw` answers "mount point is busy". Harmless when rw.
for m in /sys /sys/fs/cgroup $(findmnt -lun -o target -t cgroup,cgroup2); do
  mount -o remount,bind,rw "$m" 2>/dev/null || true
done
exec /usr/local/bin/entrypoint "$@"
