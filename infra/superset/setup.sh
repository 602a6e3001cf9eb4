#!/usr/bin/env bash
# Sets up Superset 6.1 for civiclake: its own virtualenv (.venvs/superset), the
# metadata schema in PostgreSQL (superset_meta), roles/permissions and the admin
# user (password: $SUPERSET_ADMIN_PASSWORD from var/secrets.env), and the counter of
# access changes that lets workers remember permission checks (access_generation.sql).
# Idempotent: a second run checks stamps and the database and returns in seconds.
# Dashboards are imported separately: python -m dashboards.importer
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
[ -f "$ROOT/var/secrets.env" ] || bash "$ROOT/infra/secrets.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"

make_venv superset "$here/requirements.txt"

# PostgreSQL with the superset_meta database (quick when already there).
pg() {
  PGPASSWORD="$CIVICLAKE_PG_PASSWORD" psql -qAt -v ON_ERROR_STOP=1 \
    -h "${CIVICLAKE_PG_HOST:-127.0.0.1}" -p "${CIVICLAKE_PG_PORT:-5432}" \
    -U "${CIVICLAKE_PG_USER:-civiclake}" -d "${SUPERSET_META_DB:-superset_meta}" "$@"
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
echo "[superset] ready (start: bash infra/superset/start.sh)"
