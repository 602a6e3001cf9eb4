#!/usr/bin/env bash
# Stops the Superset web server started by infra/superset/start.sh (by its pid
# file only). Not running: does nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"

if [ ! -f "$SUPERSET_PIDFILE" ]; then
  echo "[superset] not running"
  exit 0
fi
pid="$(cat "$SUPERSET_PIDFILE")"
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  echo "[superset] not running (stale pid file removed)"
  rm -f "$SUPERSET_PIDFILE"
  exit 0
fi
stop_process "$pid" superset
rm -f "$SUPERSET_PIDFILE"
echo "[superset] stopped (pid $pid)"
