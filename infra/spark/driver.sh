#!/usr/bin/env bash
# A warm Spark driver: one Spark session that runs the Spark commands of this machine's runs
# (`civiclake spark-driver serve`, civiclake/cli/driver.py). A Spark command started where
# CIVICLAKE_SPARK_DRIVER_SOCKET names its socket runs there instead of starting a JVM of its own.
#
#   infra/spark/driver.sh start    start it unless it runs; returns once it answers
#   infra/spark/driver.sh stop     stop it (the command it runs, if any, is cancelled)
#   infra/spark/driver.sh status   its Spark application id (exit 1: not running)
#   infra/spark/driver.sh socket   the socket's path, for CIVICLAKE_SPARK_DRIVER_SOCKET
#
# Settings (environment):
#   CIVICLAKE_SPARK_DRIVER_SOCKET  the socket (${CIVICLAKE_DATA_DIR:-var}/run/spark-driver.sock);
#                                  its pid file and log lie beside it
#   CIVICLAKE_SPARK_*, CIVICLAKE_JARS_DIR, CIVICLAKE_GEOGRAPHY_VERSION: the session's, as for
#                                  any Spark command; a command asking for other values of
#                                  these runs in a session of its own
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"

socket="${CIVICLAKE_SPARK_DRIVER_SOCKET:-${CIVICLAKE_DATA_DIR:-$ROOT/var}/run/spark-driver.sock}"
export CIVICLAKE_SPARK_DRIVER_SOCKET="$socket"
folder="$(dirname "$socket")"
pidfile="$folder/spark-driver.pid" log="$folder/spark-driver.log"
civiclake="${CIVICLAKE_CORE_VENV:-$VENVS/core}/bin/civiclake"

say() { echo "[spark-driver] $*"; }
die() { echo "[spark-driver] $*" >&2; exit 1; }
alive() { pid_alive "$pidfile"; }

start() {
  [ -x "$civiclake" ] || die "no civiclake at $civiclake: run \`bash infra/setup.sh core\`"
  if alive; then
    say "running (pid $(cat "$pidfile"), application $("$civiclake" spark-driver ping || echo '?'))"
    return
  fi
  mkdir -p "$folder" && chmod 700 "$folder"
  # Its own session (setsid): not ended with the shell or task that started it.
  setsid nohup "$civiclake" spark-driver serve >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 240); do
    if application="$("$civiclake" spark-driver ping 2>/dev/null)"; then
      say "started (pid $(cat "$pidfile"), application $application) at $socket"
      return
    fi
    alive || { tail -n 30 "$log" >&2; die "the driver exited during start (log above, in $log)"; }
    sleep 0.5
  done
  tail -n 30 "$log" >&2
  die "the driver did not answer at $socket in 120 s (log above, in $log)"
}

stop() {
  if alive; then
    # The driver alone: it stops its Spark session, whose JVM ends with it.
    stop_process "$(cat "$pidfile")" spark-driver
    say "stopped (pid $(cat "$pidfile"))"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) alive && "$civiclake" spark-driver ping ;;
  socket) echo "$socket" ;;
  *) echo "usage: infra/spark/driver.sh start|stop|status|socket" >&2; exit 2 ;;
esac
