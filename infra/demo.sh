#!/usr/bin/env bash
# The main job end to end on the embedded defaults: one joint operation started from a
# plan through the civiclake_operation DAG, then the civiclake_daily DAG in Airflow for one
# logical date (every source family: simulate → ingest → quality; classifier → dispatch →
# joint operations → dbt marts → publish), then Superset with the dashboards and the
# Airflow UI.
# Ends with the summary and where to look. Called by `make demo` after set-up.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
day="${1:-2026-11-25}"
# shellcheck disable=SC1091
source var/secrets.env
# Each step's wall time, so a slow demo says where its minutes went.
step() {
  local started=$SECONDS
  "$@"
  echo "[demo] $((SECONDS - started)) s: $*"
}
step bash infra/postgres/setup.sh >/dev/null

step bash infra/open311/start.sh "$day"   # the Open311 API the pipeline pulls from
step bash infra/intake/start.sh "$day"    # the district's intake API residents post to
# One joint operation (联合行动), started as an operator would from the Airflow trigger form:
# the plan 占道经营联合整治 in 观澜街道 at 09:00 of the demo day (the code looked up by name in
# the reference geography). Its orders go to the governance system's queue (its tables are
# created first, as its simulator declares them: `simulate weather` does that on the way),
# and the simulated departments work on them through the day before the daily run ingests
# the system, so the day's marts show them accepted, completed on time or late, or overdue
# and escalated by the run's follow-up. The daily run also starts the flood plan in 民治街道
# from the demo day's orange rainstorm warning (simulators/weather.py).
step .venvs/core/bin/civiclake simulate weather --date "$day"
operation_area="$(.venvs/core/bin/python -c 'from civiclake.geography import load_geography
print(next(code for code, area in load_geography().streets.items() if area.name == "观澜街道"))')"
operation_conf="$(.venvs/core/bin/python -c 'import json, sys
print(json.dumps({"plan": "street_vending_crackdown", "area": sys.argv[1], "at": sys.argv[2] + " 09:00",
                  "note": "演示：市场外溢占道，街道城管牵头联合整治"}, ensure_ascii=False))' "$operation_area" "$day")"
step env CIVICLAKE_DAG_ID=civiclake_operation CIVICLAKE_DAG_CONF="$operation_conf" \
  bash infra/airflow/run_dag.sh "$day"
step .venvs/core/bin/civiclake simulate departments --date "$day"
step bash infra/airflow/run_dag.sh "$day"
step bash infra/superset/start.sh
step .venvs/core/bin/python -m dashboards.importer
# The DAG's own warm-up found no dashboards yet on a first run; fill the cache now.
step .venvs/core/bin/civiclake marts warm
step bash infra/airflow/start.sh
echo "[demo] ready after $SECONDS s (set-up not counted)"

.venvs/core/bin/civiclake summary --date "$day"
# A resident's request posted through the intake API, as its GET shows it after the run.
request="GA${day//-/}000001"
echo "[demo] GET /open311/v2/requests/$request.json:"
curl -fsS "http://127.0.0.1:${CIVICLAKE_INTAKE_PORT:-8320}/open311/v2/requests/$request.json" || echo "(no such request)"
echo
cat <<TEXT

civiclake demo for $day is ready.
  Lake (Delta):        $root/var/lake   (bronze/, silver/, state/)
  Marts (DuckDB):      $root/var/marts/civiclake.duckdb
  Model + card:        $root/var/models/case_classifier/
  Superset:            http://127.0.0.1:8088   user admin, password: SUPERSET_ADMIN_PASSWORD in var/secrets.env
    command screen:    http://127.0.0.1:8088/civiclake/screen/   (1920×1080 kiosk, the viewer's level; dark)
    leader mobile:     http://127.0.0.1:8088/civiclake/mobile/   (390×844; save it to the phone's home screen)
      (each level has its own: /superset/dashboard/longhua-command-screen[-street|-community]/?standalone=2)
    case overview:     http://127.0.0.1:8088/superset/dashboard/longhua-cases-overview/
  Airflow:             http://127.0.0.1:${AIRFLOW_API_PORT:-8080}   user admin, password: AIRFLOW_ADMIN_PASSWORD in var/secrets.env
    review queue:      trigger DAG civiclake_review with the date; each case waits for a reviewer's answer
    joint operation:   trigger DAG civiclake_operation: plan, area code, note (联合行动一键启动)
  Intake API:          http://127.0.0.1:${CIVICLAKE_INTAKE_PORT:-8320}/open311/v2/   client keys: CIVICLAKE_INTAKE_API_KEYS in var/secrets.env
  Stop the services:   make stop
TEXT
echo "  Superset logins, one per level (dashboards/users.yaml; passwords from the environment"
echo "  or var/superset-users.env, generated once per machine):"
.venvs/core/bin/python -m dashboards.access
