#!/usr/bin/env bash
# Stop a control plane started by up.sh (or any harness run dir): ${1:-${KUBEKMS_CLUSTER_DIR:-/tmp/kubekms-cluster}}.
# Stops by the recorded pids only (apiserver, then plugin, then etcd): SIGTERM to the process group, SIGKILL
# after 10 s. Logs and data stay in the dir.
set -uo pipefail
dir="${1:-${KUBEKMS_CLUSTER_DIR:-/tmp/kubekms-cluster}}"
[ -d "$dir/pids" ] || { echo "nothing to stop in $dir"; exit 0; }
stop_pidfile() {
  local f="$1" pid name i
  pid="$(cat "$f" 2>/dev/null || true)"; name="$(basename "$f" .pid)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
     && [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then   # still our process-group leader
    kill -TERM -- "-$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "$name ($pid) ignored SIGTERM; SIGKILL"; fi
    kill -KILL -- "-$pid" 2>/dev/null
    echo "stopped $name ($pid)"
  else
    echo "$name: not running"
  fi
  rm -f "$f"
}
shopt -s nullglob
for pattern in 'kube-apiserver*' 'kubekms*' '*'; do
  for f in "$dir"/pids/$pattern.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
done
echo "logs kept in $dir/logs"
