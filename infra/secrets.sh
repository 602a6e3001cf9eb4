#!/usr/bin/env bash
# Creates var/secrets.env once per machine with random secrets, unless the
# variables are already set in the environment (a real deployment sets them
# there). Nothing secret is ever committed; no secret has a default in code.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
file="$root/var/secrets.env"
mkdir -p "$root/var"
touch "$file"
chmod 600 "$file"
ensure() {
  local name="$1"
  if [ -n "${!name:-}" ]; then return; fi
  if grep -q "^export $name=" "$file"; then return; fi
  echo "export $name=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" >> "$file"
}
# Each service has its own PostgreSQL role and password: the source systems'
# (CIVICLAKE_PG_PASSWORD), Airflow's metadata (AIRFLOW_PG_PASSWORD) and Superset's
# (SUPERSET_PG_PASSWORD). A missing one is appended to an existing file.
for name in CIVICLAKE_PII_KEY CIVICLAKE_PG_PASSWORD SUPERSET_SECRET_KEY \
            SUPERSET_ADMIN_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_JWT_SECRET \
            CIVICLAKE_LEADER_PASSWORD AIRFLOW_PG_PASSWORD SUPERSET_PG_PASSWORD; do
  ensure "$name"
done
