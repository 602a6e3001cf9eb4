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
for name in CIVICLAKE_PII_KEY CIVICLAKE_PG_PASSWORD SUPERSET_SECRET_KEY \
            SUPERSET_ADMIN_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_JWT_SECRET \
            CIVICLAKE_LEADER_PASSWORD; do
  ensure "$name"
done
