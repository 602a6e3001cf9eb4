#!/usr/bin/env bash
# Starts the Superset web server (gunicorn) in the background on
# $SUPERSET_HOST:$SUPERSET_PORT (default 127.0.0.1:8088); pid and logs under
# var/superset/. Waits until /health answers. Already running: does nothing.
# Started by root, it runs as the unprivileged user civiclake-superset with only the
# environment superset_config.py needs (service.sh); it may write var/superset and read
# the published marts, nothing else under var/.
#   SUPERSET_WORKERS (default 2), SUPERSET_THREADS (default 4),
#   SUPERSET_START_TIMEOUT seconds (default 180)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"
# shellcheck source=infra/superset/service.sh
source "$here/service.sh"

url="http://$SUPERSET_HOST:$SUPERSET_PORT"
healthy() { curl -fsS -m 5 "$url/health" 2>/dev/null | grep -q OK; }
running_pid() {
  local pid
  [ -f "$SUPERSET_PIDFILE" ] || return 1
  pid="$(cat "$SUPERSET_PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

if [ ! -x "$SUPERSET_VENV/bin/gunicorn" ]; then
  echo "[superset] $SUPERSET_VENV is missing: run bash infra/superset/setup.sh first" >&2
  exit 1
fi
for name in SUPERSET_SECRET_KEY SUPERSET_PG_PASSWORD; do
  if [ -z "${!name:-}" ]; then
    echo "[superset] $name is not set: run bash infra/secrets.sh (writes var/secrets.env)" >&2
    exit 1
  fi
done

if pid="$(running_pid)"; then
  if healthy; then
    echo "[superset] already running (pid $pid) at $url"
    exit 0
  fi
  echo "[superset] pid $pid is alive but $url/health does not answer yet; waiting"
elif healthy; then
  echo "[superset] something else already answers at $url (no pid file of ours); stop it first" >&2
  exit 1
else
  superset_service_ready
  superset_service_files
  marts="${CIVICLAKE_MARTS_FILE:-$ROOT/var/marts/civiclake.duckdb}"
  if [ -e "$marts" ] && ! superset_can_read "$marts"; then
    echo "[superset] warning: $SUPERSET_SERVICE_USER cannot read the marts file $marts, so charts" \
         "on it will fail: give that user read access to the file and the folders above it" >&2
  fi
  rm -f "$SUPERSET_PIDFILE"
  runs_as="$(id -un)"
  if [ "$(id -u)" = 0 ]; then runs_as="$SUPERSET_SERVICE_USER"; fi
  echo "[superset] starting gunicorn at $url as $runs_as (logs: $SUPERSET_LOGDIR)"
  run_as_superset "$SUPERSET_VENV/bin/gunicorn" \
    --daemon \
    --pid "$SUPERSET_PIDFILE" \
    --bind "$SUPERSET_HOST:$SUPERSET_PORT" \
    --workers "${SUPERSET_WORKERS:-2}" \
    --worker-class gthread --threads "${SUPERSET_THREADS:-4}" \
    --timeout 120 --graceful-timeout 20 \
    --max-requests 2000 --max-requests-jitter 200 \
    --access-logfile "$SUPERSET_LOGDIR/access.log" \
    --error-logfile "$SUPERSET_LOGDIR/superset.log" \
    --capture-output \
    "superset.app:create_app()"
fi

deadline=$((SECONDS + ${SUPERSET_START_TIMEOUT:-180}))
until healthy; do
  if [ $SECONDS -ge $deadline ]; then
    echo "[superset] $url/health did not answer in time; last log lines:" >&2
    tail -n 40 "$SUPERSET_LOGDIR/superset.log" >&2 || true
    exit 1
  fi
  if [ -f "$SUPERSET_PIDFILE" ] && ! running_pid >/dev/null; then
    echo "[superset] gunicorn exited during start; last log lines:" >&2
    tail -n 40 "$SUPERSET_LOGDIR/superset.log" >&2 || true
    exit 1
  fi
  sleep 1
done
echo "[superset] running (pid $(cat "$SUPERSET_PIDFILE")) at $url"
