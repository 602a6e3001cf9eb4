#!/usr/bin/env bash
# Stops the Airflow components started by infra/airflow/start.sh (by the pids
# it recorded; each component runs in its own process group), then the tasks' warm
# Spark driver. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
run="${AIRFLOW_HOME:-$ROOT/var/airflow}/run"
for component in dag-processor scheduler api-server; do
  pidfile="$run/$component.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q airflow; then
    stop_process "$pid" "airflow $component" group
    echo "[airflow] stopped $component (pid $pid)"
  fi
  rm -f "$pidfile"
done
bash "$here/../spark/driver.sh" stop
