#!/usr/bin/env bash
# Starts the simulated Open311 GeoReport v2 server (`civiclake serve open311`) in the
# background on 127.0.0.1:${CIVICLAKE_OPEN311_PORT:-8311}, serving the simulated
# Longhua channel up to the given date; pid and log under var/open311/. Waits until
# /open311/v2/services.json answers. Already running for that date: does nothing.
#   infra/open311/start.sh 2026-11-25 [DAYS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
day="${1:?usage: infra/open311/start.sh YYYY-MM-DD [DAYS]}"
days="${2:-${CIVICLAKE_SIM_HISTORY_DAYS:-30}}"
port="${CIVICLAKE_OPEN311_PORT:-8311}"
state="${CIVICLAKE_DATA_DIR:-$ROOT/var}/open311"
pidfile="$state/server.pid"
url="http://127.0.0.1:$port/open311/v2/services.json"
mkdir -p "$state"

answers() { curl -fsS -m 5 "$url" >/dev/null 2>&1; }
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  if [ "$(cat "$state/server.date" 2>/dev/null)" = "$day/$days" ] && answers; then
    echo "[open311] already running (pid $(cat "$pidfile")) at http://127.0.0.1:$port"
    exit 0
  fi
  bash "$here/stop.sh"
elif answers; then
  echo "[open311] something else already answers on port $port (no pid file of ours); stop it first" >&2
  exit 1
fi

echo "[open311] serving the simulated Longhua channel up to $day ($days days) on port $port"
nohup "$VENVS/core/bin/civiclake" serve open311 --dataset longhua --date "$day" --days "$days" \
  --port "$port" >"$state/server.log" 2>&1 &
echo $! >"$pidfile"
echo "$day/$days" >"$state/server.date"
for _ in $(seq 1 120); do
  if answers; then
    echo "[open311] running (pid $(cat "$pidfile")) at http://127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "[open311] the server exited during start; its log:" >&2
    tail -n 30 "$state/server.log" >&2
    exit 1
  fi
  sleep 1
done
echo "[open311] $url did not answer in 120 s" >&2
exit 1
