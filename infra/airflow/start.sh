#!/usr/bin/env bash
# Starts Airflow in the background: api-server (UI, REST API and the execution
# API the task runners call) on 127.0.0.1:$AIRFLOW_API_PORT (8080), scheduler
# (LocalExecutor; without the worker log server unless AIRFLOW_SERVE_WORKER_LOGS=true,
# see env.sh) and dag-processor, and the warm Spark driver of the tasks
# (infra/spark/driver.sh). Logs and pid files under var/airflow/ (the driver's: var/run/).
# Idempotent: a component already running is left alone. Waits until
# /api/v2/monitor/health answers.
#   bash infra/airflow/start.sh        # then: bash infra/airflow/stop.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/airflow/env.sh
source "$here/env.sh"
if [ ! -x "$AIRFLOW_VENV/bin/airflow" ]; then
  echo "no Airflow environment at $AIRFLOW_VENV; run: bash infra/airflow/setup.sh" >&2
  exit 1
fi
run="$AIRFLOW_HOME/run" logs="$AIRFLOW_HOME/logs"
mkdir -p "$run" "$logs"

running() {  # running NAME: its pid file names a live airflow process
  local pid
  pid="$(cat "$run/$1.pid" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q airflow
}

# Before the scheduler: the Spark commands of its task runs use the warm driver (env.sh).
# Without it they still run, each in a session of its own.
if [ -n "${CIVICLAKE_SPARK_DRIVER_SOCKET:-}" ] && ! bash "$SPARK_DRIVER" start; then
  echo "[airflow] no warm Spark driver (above): each Spark task starts a session of its own" >&2
fi

for component in api-server scheduler dag-processor; do
  if running "$component"; then
    echo "[airflow] $component already running (pid $(cat "$run/$component.pid"))"
    continue
  fi
  # Own session (setsid): stop.sh ends the component and its children by group id.
  # The pid is written by the process itself, after setsid, right before it becomes airflow.
  rm -f "$run/$component.pid"
  args=()
  # Split on purpose: AIRFLOW_SCHEDULER_ARGS is a list of flags (env.sh).
  # shellcheck disable=SC2206
  if [ "$component" = scheduler ]; then args=($AIRFLOW_SCHEDULER_ARGS); fi
  setsid nohup bash -c 'echo $$ >"$0"; exec airflow "$@"' "$run/$component.pid" "$component" "${args[@]}" \
    >>"$logs/$component.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do [ -s "$run/$component.pid" ] && break; sleep 0.1; done
  echo "[airflow] started $component (pid $(cat "$run/$component.pid"), log $logs/$component.log)"
done

url="$AIRFLOW__API__BASE_URL/api/v2/monitor/health"
for _ in $(seq 1 "${AIRFLOW_START_TIMEOUT:-120}"); do
  if health="$(curl -fsS --max-time 2 "$url" 2>/dev/null)"; then
    echo "[airflow] api-server healthy at $AIRFLOW__API__BASE_URL ($health)"
    echo "[airflow] login: user 'admin', password = AIRFLOW_ADMIN_PASSWORD in var/secrets.env"
    exit 0
  fi
  if ! running api-server; then
    echo "[airflow] api-server exited; last lines of $logs/api-server.log:" >&2
    tail -n 30 "$logs/api-server.log" >&2
    exit 1
  fi
  sleep 1
done
echo "[airflow] api-server did not answer $url in time; see $logs/api-server.log" >&2
exit 1
