#!/usr/bin/env bash
# Stops the Airflow components started by infra/airflow/start.sh (by the pids
# it recorded; each component runs in its own process group). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
run="${AIRFLOW_HOME:-$root/var/airflow}/run"
for component in dag-processor scheduler api-server; do
  pidfile="$run/$component.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q airflow; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[airflow] $component (pid $pid) did not stop in 30 s; killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    echo "[airflow] stopped $component (pid $pid)"
  fi
  rm -f "$pidfile"
done
