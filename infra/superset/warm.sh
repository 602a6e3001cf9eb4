#!/usr/bin/env bash
# Fills Superset's chart-data cache for every civiclake role from the published marts
# (infra/superset/warm_cache.py). Run after `civiclake marts publish`; the daily DAG
# does. Exit code 99 (a skip for the DAG) when Superset is not set up on this host.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"
if [ ! -x "$SUPERSET_VENV/bin/python" ] || [ ! -f "$SUPERSET_HOME/.setup-stamp" ]; then
  echo "[warm] Superset is not set up here (bash infra/superset/setup.sh): nothing to warm"
  exit 99
fi
exec "$SUPERSET_VENV/bin/python" "$here/warm_cache.py" "$@"
