#!/usr/bin/env bash
# Sets up Superset 6.1 for civiclake: the system user its web server runs as
# (civiclake-superset, see service.sh), its own virtualenv (.venvs/superset), the
# metadata schema in PostgreSQL (superset_meta, as Superset's own role
# civiclake_superset), roles/permissions and the admin user (password:
# $SUPERSET_ADMIN_PASSWORD from var/secrets.env), and the counter of access changes
# that lets workers remember permission checks (access_generation.sql).
# Idempotent: a second run checks stamps and the database and returns in seconds.
# Dashboards are imported separately: python -m dashboards.importer
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
bash "$ROOT/infra/secrets.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"
# shellcheck source=infra/superset/service.sh
source "$here/service.sh"

if [ "$(id -u)" = 0 ]; then
  if ! id -u "$SUPERSET_SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$SUPERSET_SERVICE_USER"
    echo "[superset] created system user $SUPERSET_SERVICE_USER"
  fi
  superset_service_path_open
  # The web server runs as that user: the virtualenv's interpreter must be one it can
  # run (not pyenv's under root's home).
  if ! base_python "$SUPERSET_SERVICE_USER" >/dev/null 2>&1; then
    echo "[superset] installing Debian's python$PYTHON_VERSION, an interpreter $SUPERSET_SERVICE_USER can run"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "python$PYTHON_VERSION" "python$PYTHON_VERSION-venv" >/dev/null || true
  fi
  if ! python="$(base_python "$SUPERSET_SERVICE_USER")"; then
    echo "[superset] no python$PYTHON_VERSION that $SUPERSET_SERVICE_USER can run (pyenv's lives in" \
         "root's home, which other users cannot enter): install Debian's python$PYTHON_VERSION" >&2
    exit 1
  fi
  VENV_PYTHON="$python" make_venv superset "$here/requirements.txt"
else
  make_venv superset "$here/requirements.txt"
fi

# PostgreSQL with the superset_meta database, as Superset's own role (quick when
# already there).
pg() {
  PGPASSWORD="$SUPERSET_PG_PASSWORD" psql -X -qAt -v ON_ERROR_STOP=1 \
    -h "${CIVICLAKE_PG_HOST:-127.0.0.1}" -p "${CIVICLAKE_PG_PORT:-5432}" \
    -U "${SUPERSET_PG_USER:-civiclake_superset}" -d "${SUPERSET_META_DB:-superset_meta}" "$@"
}
if ! pg -c 'select 1' >/dev/null 2>&1; then
  bash "$ROOT/infra/postgres/setup.sh"
fi

stamp="$SUPERSET_HOME/.setup-stamp"
want="$( (cat "$here/requirements.txt" "$here/superset_config.py" "$here/ensure_admin.py" \
            "$here/access_memo.py" "$here/access_generation.sql";
          printf '%s' "$SUPERSET_ADMIN_PASSWORD" | sha256sum) | sha256sum | cut -c1-16)"
db_state() {
  # alembic head in the database + whether the admin user exists
  echo "$(pg -c 'select version_num from alembic_version' 2>/dev/null || true)" \
       "$(pg -c "select count(*) from ab_user where username='admin'" 2>/dev/null || true)"
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want $(db_state)" ]; then
  superset_service_files
  echo "[superset] up to date"
  exit 0
fi

superset="$SUPERSET_VENV/bin/superset"
run_logged() {  # run_logged LOGNAME CMD...: output to var/superset/logs/LOGNAME.log
  local log="$SUPERSET_LOGDIR/$1.log"; shift
  if ! "$@" >"$log" 2>&1; then
    echo "[superset] failed: $* (last lines of $log):" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
echo "[superset] upgrading metadata database (superset db upgrade)"
run_logged db-upgrade "$superset" db upgrade
echo "[superset] access-change counter for remembered permission checks"
PGOPTIONS="--client-min-messages=warning" pg -f "$here/access_generation.sql" >/dev/null
echo "[superset] syncing roles and permissions (superset init)"
run_logged init "$superset" init
run_logged ensure-admin "$SUPERSET_VENV/bin/python" "$here/ensure_admin.py"
grep '^\[superset\]' "$SUPERSET_LOGDIR/ensure-admin.log" || true
echo "$want $(db_state)" > "$stamp"
# What the steps above wrote under var/superset as root becomes the service user's.
superset_service_files
echo "[superset] ready (start: bash infra/superset/start.sh)"
