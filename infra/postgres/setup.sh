#!/usr/bin/env bash
# Installs PostgreSQL from Debian packages (if missing), starts the local
# cluster and creates the role and databases the platform uses:
#   civiclake_sources  simulated operational source systems
#   airflow_meta       Airflow metadata
#   superset_meta      Superset metadata
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck disable=SC1091
source "$root/var/secrets.env"
PGPORT="${CIVICLAKE_PG_PORT:-5432}"
PGUSER_APP="${CIVICLAKE_PG_USER:-civiclake}"

if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "[postgres] installing postgresql from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
  pg_createcluster "$version" main --port "$PGPORT" >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  echo "[postgres] starting cluster $version/main"
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break
  sleep 1
done

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -p $PGPORT $*"; }

if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname='$PGUSER_APP'\"")" != "1" ]; then
  psql_admin "-c \"create role $PGUSER_APP login\""
fi
# The password follows var/secrets.env (or the environment) on every run.
su postgres -c "psql -qAt -p $PGPORT -v ON_ERROR_STOP=1" <<SQL
-- createdb: integration tests make throw-away source databases of their own.
alter role $PGUSER_APP with login createdb password '$CIVICLAKE_PG_PASSWORD';
SQL
# Superset encrypts what it stores with SUPERSET_SECRET_KEY: metadata written under
# another key is unreadable, so a database made for another key is made anew (its
# content - dashboards, roles, users - is re-created from dashboards/ by the importer).
key_mark="secret-$(printf '%s' "${SUPERSET_SECRET_KEY:-}" | sha256sum | cut -c1-16)"
if [ "$(psql_admin "-c \"select shobj_description(oid, 'pg_database') from pg_database where datname='superset_meta'\"")" \
     != "$key_mark" ] && [ "$(psql_admin "-c \"select 1 from pg_database where datname='superset_meta'\"")" = "1" ]; then
  echo "[postgres] superset_meta was made under another SUPERSET_SECRET_KEY: re-creating it"
  psql_admin "-c \"drop database superset_meta with (force)\""
fi
for db in civiclake_sources airflow_meta superset_meta; do
  if [ "$(psql_admin "-c \"select 1 from pg_database where datname='$db'\"")" != "1" ]; then
    psql_admin "-c \"create database $db owner $PGUSER_APP encoding 'UTF8' template template0\""
    echo "[postgres] created database $db"
  fi
done
psql_admin "-c \"comment on database superset_meta is '$key_mark'\""
echo "[postgres] ready on 127.0.0.1:$PGPORT (role $PGUSER_APP)"
