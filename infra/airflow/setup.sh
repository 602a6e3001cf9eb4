#!/usr/bin/env bash
# Airflow for civiclake: .venvs/airflow from the pinned lock file, the metadata
# schema in PostgreSQL (airflow_meta) migrated. Idempotent: a second run checks
# the venv stamp and the schema revision and returns in about a second.
#   bash infra/airflow/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"

[ -f "$ROOT/var/secrets.env" ] || bash "$ROOT/infra/secrets.sh"
make_venv airflow "$here/requirements.txt"
# shellcheck source=infra/airflow/env.sh
source "$here/env.sh"

# The metadata database must answer (infra/setup.sh runs infra/postgres/setup.sh
# first; run it here too when this script is used on its own).
db_revision() {
  "$AIRFLOW_VENV/bin/python" - <<'PY'
import os, sys
import psycopg2
from sqlalchemy.engine import make_url
url = make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
try:
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username,
                            password=url.password, dbname=url.database, connect_timeout=5)
except psycopg2.OperationalError as exc:
    print(f"cannot connect: {exc}".strip().replace("\n", " "), file=sys.stderr)
    sys.exit(2)
with conn, conn.cursor() as cur:
    cur.execute("select to_regclass('alembic_version') is not null")
    if cur.fetchone()[0]:
        cur.execute("select version_num from alembic_version")
        row = cur.fetchone()
        print(row[0] if row else "")
    else:
        print("")
PY
}
if ! rev="$(db_revision 2>/dev/null)"; then
  echo "[airflow] metadata database not reachable; running infra/postgres/setup.sh"
  bash "$ROOT/infra/postgres/setup.sh"
  rev="$(db_revision)"
fi

# Migrate when the schema is new, or Airflow (its lock file) changed since the last migration.
stamp="$AIRFLOW_HOME/.db-migrated"
want="$(cat "$AIRFLOW_VENV/.civiclake-stamp") $rev"
if [ -z "$rev" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[airflow] airflow db migrate (${AIRFLOW_META_DB:-airflow_meta})"
  airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
    || { tail -n 30 "$AIRFLOW_HOME/db-migrate.log" >&2; echo "[airflow] db migrate failed; full log: $AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
  rev="$(db_revision)"
  echo "$(cat "$AIRFLOW_VENV/.civiclake-stamp") $rev" > "$stamp"
fi
echo "[airflow] ready (schema $rev); start the services with: bash infra/airflow/start.sh"
