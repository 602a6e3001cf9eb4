#!/usr/bin/env bash
# Runs civiclake_daily end to end for one logical date, in this process
# (`airflow dags test`: no scheduler or api-server needed), then prints every
# task instance's state. Exits non-zero unless the run succeeded.
#   bash infra/airflow/run_dag.sh 2026-11-25
# Another DAG: CIVICLAKE_DAG_ID; its run's conf (the trigger form's params, JSON):
# CIVICLAKE_DAG_CONF, e.g.
#   CIVICLAKE_DAG_ID=civiclake_operation CIVICLAKE_DAG_CONF='{"plan": "…", "area": "…"}' \
#     bash infra/airflow/run_dag.sh 2026-11-25
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
date="${1:-}"
if ! [[ "$date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
  echo "usage: infra/airflow/run_dag.sh YYYY-MM-DD   (the logical date, {{ ds }} in the tasks)" >&2
  exit 2
fi
# shellcheck source=infra/airflow/env.sh
source "$here/env.sh"
if [ ! -x "$AIRFLOW_VENV/bin/airflow" ]; then
  echo "no Airflow environment at $AIRFLOW_VENV; run: bash infra/airflow/setup.sh" >&2
  exit 1
fi
dag_id="${CIVICLAKE_DAG_ID:-civiclake_daily}"
# A running scheduler also schedules the tasks of this test run when the DAG is
# unpaused (they would run twice): refuse, and say what to do.
scheduler_pid="$(cat "$AIRFLOW_HOME/run/scheduler.pid" 2>/dev/null || true)"
if [ -n "$scheduler_pid" ] && kill -0 "$scheduler_pid" 2>/dev/null; then
  paused="$("$AIRFLOW_VENV/bin/python" - "$dag_id" <<'PY' 2>/dev/null || true
import os, sys
from sqlalchemy import create_engine, text
engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
with engine.connect() as conn:
    row = conn.execute(text("select is_paused from dag where dag_id = :d"), {"d": sys.argv[1]}).first()
print("unknown" if row is None else ("yes" if row[0] else "no"))
PY
)"
  if [ "$paused" = "no" ]; then
    echo "the scheduler is running and $dag_id is unpaused: its tasks would run twice." >&2
    echo "pause it (airflow dags pause $dag_id) or stop Airflow (infra/airflow/stop.sh) first," >&2
    echo "or trigger a run in the scheduler instead: airflow dags trigger $dag_id --logical-date ${date}T00:00:00+00:00" >&2
    exit 1
  fi
fi
conf_args=()
if [ -n "${CIVICLAKE_DAG_CONF:-}" ]; then
  conf_args=(--conf "$CIVICLAKE_DAG_CONF")
fi
# The run's Spark commands share one warm Spark driver (env.sh): the one that runs at its
# socket already, or one started here and stopped when the run ends. Without it they still
# run, each in a session of its own.
if [ -n "${CIVICLAKE_SPARK_DRIVER_SOCKET:-}" ] && ! bash "$SPARK_DRIVER" status >/dev/null 2>&1; then
  trap 'bash "$SPARK_DRIVER" stop' EXIT
  bash "$SPARK_DRIVER" start \
    || echo "[airflow] no warm Spark driver (above): each Spark task starts a session of its own" >&2
fi
log="$AIRFLOW_HOME/dags-test-$dag_id-$date.log"
echo "[airflow] airflow dags test $dag_id $date ${conf_args[*]} (log: $log)"
rc=0
airflow dags test "$dag_id" "$date" "${conf_args[@]}" 2>&1 | tee "$log" || rc=$?
echo "[airflow] task states for $dag_id $date:"
run_id="$( (grep "DagRun Finished" "$log"; cat "$log") | grep -oE "run_id=[^ ,]+" | head -n 1 | cut -d= -f2 || true)"
if [ -n "$run_id" ]; then
  show_states="$(cat <<'PY'
import json, sys
found = [json.loads(line) for line in sys.stdin if line.startswith(("[{", "[]"))]
for row in sorted(found[-1] if found else [], key=lambda r: r["start_date"] or ""):
    print("  %-16s %s" % (row["state"] or "none", row["task_id"]))
PY
)"
  airflow tasks states-for-dag-run "$dag_id" "$run_id" -o json 2>/dev/null \
    | "$AIRFLOW_VENV/bin/python" -c "$show_states" || true
fi
if [ "$rc" -ne 0 ]; then
  echo "[airflow] $dag_id $date FAILED (exit $rc); see $log and the task logs under $AIRFLOW_HOME/logs" >&2
fi
exit "$rc"
