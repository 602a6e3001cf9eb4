#!/usr/bin/env bash
# Starts the district's intake API (`civiclake serve intake`, Open311 GeoReport v2 POST) in
# the background on 127.0.0.1:${CIVICLAKE_INTAKE_PORT:-8320}; pid and log under var/intake/.
# With DAY, its clock walks through that simulated day (the demo's daily run for DAY picks
# the posts up); without, it stamps requests with the district's wall clock. Waits until
# /open311/v2/services.json answers. Already running with the same clock: does nothing.
# Client keys, the PII key and the database password come from the environment, or from
# var/secrets.env (infra/secrets.sh) when they are not set.
#   infra/intake/start.sh [YYYY-MM-DD]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
day="${1:-}"
port="${CIVICLAKE_INTAKE_PORT:-8320}"
state="${CIVICLAKE_DATA_DIR:-$ROOT/var}/intake"
pidfile="$state/server.pid"
url="http://127.0.0.1:$port/open311/v2/services.json"
clock="${day:-wall}"
mkdir -p "$state"
if [ -z "${CIVICLAKE_INTAKE_API_KEYS:-}${CIVICLAKE_INTAKE_API_KEYS_FILE:-}" ] && [ -f "$ROOT/var/secrets.env" ]; then
  # shellcheck disable=SC1091
  source "$ROOT/var/secrets.env"
fi

answers() { curl -fsS -m 5 "$url" >/dev/null 2>&1; }
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  if [ "$(cat "$state/server.clock" 2>/dev/null)" = "$clock" ] && answers; then
    echo "[intake] already running (pid $(cat "$pidfile"), clock $clock) at http://127.0.0.1:$port"
    exit 0
  fi
  bash "$here/stop.sh"
elif answers; then
  echo "[intake] something else already answers on port $port (no pid file of ours); stop it first" >&2
  exit 1
fi

args=(serve intake --port "$port")
[ -z "$day" ] || args+=(--simulated-day "$day")
echo "[intake] serving the intake API on port $port (clock: $clock)"
nohup "$VENVS/core/bin/civiclake" "${args[@]}" >"$state/server.log" 2>&1 &
echo $! >"$pidfile"
echo "$clock" >"$state/server.clock"
for _ in $(seq 1 60); do
  if answers; then
    echo "[intake] running (pid $(cat "$pidfile")) at http://127.0.0.1:$port/open311/v2/"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "[intake] the server exited during start; its log:" >&2
    tail -n 30 "$state/server.log" >&2
    rm -f "$pidfile" "$state/server.clock"
    exit 1
  fi
  sleep 1
done
echo "[intake] $url did not answer in 60 s" >&2
exit 1
