# Airflow environment for civiclake (sourced, not run):
#   source infra/airflow/env.sh
# Exports AIRFLOW_HOME and the AIRFLOW__* configuration, reading the secrets from
# the environment or var/secrets.env (written by infra/secrets.sh). Nothing secret
# is defaulted here. Also writes the simple auth manager's password file from
# AIRFLOW_ADMIN_PASSWORD so the login is deterministic (user `admin`).

CIVICLAKE_HOME="${CIVICLAKE_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export CIVICLAKE_HOME

if [ -f "$CIVICLAKE_HOME/var/secrets.env" ]; then
  # shellcheck disable=SC1091
  source "$CIVICLAKE_HOME/var/secrets.env"
fi
for _civiclake_var in AIRFLOW_ADMIN_PASSWORD AIRFLOW_JWT_SECRET AIRFLOW_PG_PASSWORD; do
  if [ -z "${!_civiclake_var:-}" ]; then
    echo "infra/airflow/env.sh: $_civiclake_var is not set; run 'bash infra/secrets.sh' (writes var/secrets.env) or export it" >&2
    unset _civiclake_var
    return 1 2>/dev/null || exit 1
  fi
done
unset _civiclake_var

export AIRFLOW_HOME="${AIRFLOW_HOME:-$CIVICLAKE_HOME/var/airflow}"
mkdir -p "$AIRFLOW_HOME"
AIRFLOW_VENV="$CIVICLAKE_HOME/.venvs/airflow"
export PATH="$AIRFLOW_VENV/bin:$PATH"

# Metadata database: local PostgreSQL (infra/postgres/setup.sh creates airflow_meta),
# as Airflow's own role, which reaches no other database; unless
# AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is already set (tests use a SQLite file).
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  _civiclake_pg_pw="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$AIRFLOW_PG_PASSWORD")"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://${AIRFLOW_PG_USER:-civiclake_airflow}:${_civiclake_pg_pw}@${CIVICLAKE_PG_HOST:-127.0.0.1}:${CIVICLAKE_PG_PORT:-5432}/${AIRFLOW_META_DB:-airflow_meta}"
  unset _civiclake_pg_pw
fi

# The warm Spark driver that the tasks' Spark commands run on (infra/spark/driver.sh, started by
# start.sh and run_dag.sh). CIVICLAKE_SPARK_WARM_DRIVER=false: each starts a session of its own.
SPARK_DRIVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../spark" && pwd)/driver.sh"
if [ "${CIVICLAKE_SPARK_WARM_DRIVER:-true}" = true ]; then
  CIVICLAKE_SPARK_DRIVER_SOCKET="$(bash "$SPARK_DRIVER" socket)"
  export CIVICLAKE_SPARK_DRIVER_SOCKET
else
  unset CIVICLAKE_SPARK_DRIVER_SOCKET
fi

export AIRFLOW__CORE__DAGS_FOLDER="$CIVICLAKE_HOME/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# LocalExecutor on one machine; a deployment with workers elsewhere sets CeleryExecutor or
# KubernetesExecutor (docs/SCALING.md).
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-2}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
# Cosmos runs `dbt ls` while parsing (cached afterwards); give it time on small machines.
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=180
export AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=240
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=60

# Listeners bind to loopback unless AIRFLOW_BIND_HOST names another address (a proxy or
# remote workers in front of this machine).
export AIRFLOW_BIND_HOST="${AIRFLOW_BIND_HOST:-127.0.0.1}"
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST="$AIRFLOW_BIND_HOST"
# The worker log server (port 8793, started by the scheduler for LocalExecutor) has no host
# setting in Airflow 3.3: it binds every interface. Task logs are files under
# $AIRFLOW_HOME/logs that the api-server on this machine reads itself, so start.sh runs the
# scheduler with --skip-serve-logs unless AIRFLOW_SERVE_WORKER_LOGS=true.
export AIRFLOW_SERVE_WORKER_LOGS="${AIRFLOW_SERVE_WORKER_LOGS:-false}"
if [ "$AIRFLOW_SERVE_WORKER_LOGS" = true ]; then
  export AIRFLOW_SCHEDULER_ARGS=""
else
  export AIRFLOW_SCHEDULER_ARGS="--skip-serve-logs"
fi

# API server (UI + REST + execution API for task runners).
export AIRFLOW_API_PORT="${AIRFLOW_API_PORT:-8080}"
export AIRFLOW__API__HOST="$AIRFLOW_BIND_HOST"
export AIRFLOW__API__PORT="$AIRFLOW_API_PORT"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW_API_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_API_PORT/execution/"

# Secrets: the JWT secret is shared by every component; the other keys are derived
# from it (stable across restarts and machines sharing var/secrets.env) unless set.
export AIRFLOW__API_AUTH__JWT_SECRET="$AIRFLOW_JWT_SECRET"
_civiclake_derive() {
  python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha256((sys.argv[1] + ":" + sys.argv[2]).encode()).digest()).decode())' "$1" "$AIRFLOW_JWT_SECRET"
}
export AIRFLOW__API__SECRET_KEY="${AIRFLOW__API__SECRET_KEY:-$(_civiclake_derive api-secret-key)}"
export AIRFLOW__CORE__FERNET_KEY="${AIRFLOW__CORE__FERNET_KEY:-$(_civiclake_derive fernet-key)}"
unset -f _civiclake_derive

# Login: simple auth manager, one admin user whose password is AIRFLOW_ADMIN_PASSWORD.
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
(
  umask 077
  python3 -c 'import json, sys; print(json.dumps({"admin": sys.argv[1]}))' "$AIRFLOW_ADMIN_PASSWORD" \
    > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE.tmp"
  mv -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE.tmp" "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
)

# No phoning home (cosmos telemetry), no network at parse time.
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
export AIRFLOW__COSMOS__CACHE_DIR="$AIRFLOW_HOME/cosmos_cache"
export DO_NOT_TRACK=true SCARF_NO_ANALYTICS=true
export DBT_SEND_ANONYMOUS_USAGE_STATS=False

# Where the DAG finds the core environment (civiclake CLI, dbt).
export CIVICLAKE_CORE_VENV="${CIVICLAKE_CORE_VENV:-$CIVICLAKE_HOME/.venvs/core}"
