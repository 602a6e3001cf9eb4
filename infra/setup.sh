#!/usr/bin/env bash
# Sets up everything civiclake needs on a fresh Debian machine, from the
# package registries only. Idempotent: a second run checks stamps and returns
# in seconds.
#   infra/setup.sh            everything
#   infra/setup.sh core       only the core virtualenv, jars and PostgreSQL
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/lib.sh"
what="${1:-all}"

bash "$here/secrets.sh"
make_venv core "$here/core/requirements.txt" -e "$ROOT"
bash "$here/spark/fetch_jars.sh"
bash "$here/postgres/setup.sh"
if [ "$what" = all ]; then
  bash "$here/airflow/setup.sh"
  bash "$here/superset/setup.sh"
fi
echo "[setup] done"
