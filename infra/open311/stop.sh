#!/usr/bin/env bash
# Stops the Open311 simulator started by infra/open311/start.sh (by its pid file only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
state="${CIVICLAKE_DATA_DIR:-$ROOT/var}/open311"
pidfile="$state/server.pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  rm -f "$pidfile"
  echo "[open311] not running"
  exit 0
fi
pid="$(cat "$pidfile")"
stop_process "$pid" open311
rm -f "$pidfile" "$state/server.date"
echo "[open311] stopped (pid $pid)"
