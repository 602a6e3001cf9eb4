#!/usr/bin/env bash
# Stops the intake API started by infra/intake/start.sh (by its pid file only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
state="${CIVICLAKE_DATA_DIR:-$ROOT/var}/intake"
pidfile="$state/server.pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  rm -f "$pidfile" "$state/server.clock"
  echo "[intake] not running"
  exit 0
fi
pid="$(cat "$pidfile")"
stop_process "$pid" intake
rm -f "$pidfile" "$state/server.clock"
echo "[intake] stopped (pid $pid)"
