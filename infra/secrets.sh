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
# The intake API's client apps, each with its own key (civiclake/intake/clients.py):
# client:channel:key — the i龙华 mini program (its demo residents post with this key, see
# simulators/residents.py) and the 12345 hotline's bridge.
if [ -z "${CIVICLAKE_INTAKE_API_KEYS:-}" ] && ! grep -q "^export CIVICLAKE_INTAKE_API_KEYS=" "$file"; then
  key() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
  echo "export CIVICLAKE_INTAKE_API_KEYS=ilonghua:mini_program:$(key),bridge12345:hotline_12345:$(key)" >> "$file"
fi
