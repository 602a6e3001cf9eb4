#!/usr/bin/env bash
# Installs PostgreSQL from Debian packages (if missing), starts the local
# cluster and gives each service its own role, owning its own database only:
#   civiclake            civiclake_sources  simulated operational source systems
#                                           (createdb: tests make throw-away ones)
#   civiclake_airflow    airflow_meta       Airflow metadata
#   civiclake_superset   superset_meta      Superset metadata
# CONNECT on the three is revoked from PUBLIC and from the other two roles, so one
# service's password opens no other service's data.
# Idempotent: a second run only checks that everything is there. Where one role
# still owns every database (earlier set-ups), the metadata databases and every
# object in them move to their service's role.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$root/infra/secrets.sh"  # appends any secret a var/secrets.env of an earlier set-up lacks
# shellcheck disable=SC1091
source "$root/var/secrets.env"
PGPORT="${CIVICLAKE_PG_PORT:-5432}"
SOURCES_ROLE="${CIVICLAKE_PG_USER:-civiclake}"
AIRFLOW_ROLE="${AIRFLOW_PG_USER:-civiclake_airflow}"
SUPERSET_ROLE="${SUPERSET_PG_USER:-civiclake_superset}"
ROLES=("$SOURCES_ROLE" "$AIRFLOW_ROLE" "$SUPERSET_ROLE")
for role in "${ROLES[@]}"; do
  # Role names go into SQL as identifiers: plain lower-case names only.
  if ! [[ "$role" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "[postgres] role name '$role' is not a plain identifier (a-z, 0-9, _); fix CIVICLAKE_PG_USER / AIRFLOW_PG_USER / SUPERSET_PG_USER" >&2
    exit 1
  fi
done
if [ "$(printf '%s\n' "${ROLES[@]}" | sort -u | wc -l)" != 3 ]; then
  echo "[postgres] CIVICLAKE_PG_USER, AIRFLOW_PG_USER and SUPERSET_PG_USER must name three different roles (got: ${ROLES[*]})" >&2
  exit 1
fi

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

# psql as the cluster's superuser; SQL comes as arguments or on stdin.
psql_admin() { runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -qAt -p "$PGPORT" "$@"; }

# ensure_role NAME PASSWORD OPTION...: a login role whose password follows
# var/secrets.env (or the environment) on every run.
ensure_role() {
  local name="$1" password="$2"; shift 2
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname = '$name'")" != 1 ]; then
    psql_admin -c "create role $name login"
    echo "[postgres] created role $name"
  fi
  # On stdin, not in psql's arguments, which every local user can read.
  psql_admin <<SQL
alter role $name with login nosuperuser nocreaterole $* password '${password//\'/\'\'}';
SQL
}
ensure_role "$SOURCES_ROLE" "$CIVICLAKE_PG_PASSWORD" createdb
ensure_role "$AIRFLOW_ROLE" "$AIRFLOW_PG_PASSWORD" nocreatedb
ensure_role "$SUPERSET_ROLE" "$SUPERSET_PG_PASSWORD" nocreatedb

# move_objects DB FROM TO: what FROM owns inside DB (tables with their indexes and
# column sequences, views, other sequences, functions, types, schemas) becomes TO's.
# REASSIGN OWNED would also hand over every other database FROM owns.
move_objects() {
  local db="$1" from="$2" to="$3"
  psql_admin -d "$db" <<SQL
select format('alter %s %I.%I owner to %I',
              case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                             when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end,
              n.nspname, c.relname, '$to')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relowner = '$from'::regrole and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
  and not exists (select 1 from pg_depend d  -- sequences of a column follow their table
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i'))
\gexec
select format('alter %s %s owner to %I',
              case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' else 'function' end,
              p.oid::regprocedure, '$to')
from pg_proc p
where p.proowner = '$from'::regrole
  and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
\gexec
select format('alter %s %s owner to %I', case t.typtype when 'd' then 'domain' else 'type' end, t.oid::regtype, '$to')
from pg_type t left join pg_class c on c.oid = t.typrelid
where t.typowner = '$from'::regrole
  and (t.typtype in ('e', 'd', 'r') or (t.typtype = 'c' and c.relkind = 'c'))
  and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
\gexec
select format('alter schema %I owner to %I', nspname, '$to') from pg_namespace where nspowner = '$from'::regrole
\gexec
SQL
}

# ensure_database DB OWNER: DB exists, belongs to OWNER with everything in it, and
# only OWNER may connect.
ensure_database() {
  local db="$1" owner="$2" current role
  current="$(psql_admin -c "select pg_get_userbyid(datdba) from pg_database where datname = '$db'")"
  if [ -z "$current" ]; then
    psql_admin -c "create database $db owner $owner encoding 'UTF8' template template0"
    echo "[postgres] created database $db (owner $owner)"
  elif [ "$current" != "$owner" ]; then
    psql_admin -c "alter database $db owner to $owner"
    echo "[postgres] database $db: owner $current -> $owner"
  fi
  for role in "${ROLES[@]}"; do
    if [ "$role" != "$owner" ]; then
      move_objects "$db" "$role" "$owner"
      psql_admin -c "revoke all on database $db from $role"
    fi
  done
  psql_admin -c "revoke all on database $db from public"
}

# Superset encrypts what it stores with SUPERSET_SECRET_KEY: metadata written under
# another key is unreadable, so a database made for another key is made anew (its
# content - dashboards, roles, users - is re-created from dashboards/ by the importer).
key_mark="secret-$(printf '%s' "${SUPERSET_SECRET_KEY:-}" | sha256sum | cut -c1-16)"
if [ "$(psql_admin -c "select shobj_description(oid, 'pg_database') from pg_database where datname = 'superset_meta'")" \
     != "$key_mark" ] && [ "$(psql_admin -c "select 1 from pg_database where datname = 'superset_meta'")" = "1" ]; then
  echo "[postgres] superset_meta was made under another SUPERSET_SECRET_KEY: re-creating it"
  psql_admin -c "drop database superset_meta with (force)"
fi
ensure_database civiclake_sources "$SOURCES_ROLE"
ensure_database airflow_meta "$AIRFLOW_ROLE"
ensure_database superset_meta "$SUPERSET_ROLE"
psql_admin -c "comment on database superset_meta is '$key_mark'"
echo "[postgres] ready on 127.0.0.1:$PGPORT (roles: $SOURCES_ROLE, $AIRFLOW_ROLE, $SUPERSET_ROLE)"
