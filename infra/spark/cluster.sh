#!/usr/bin/env bash
# A Spark standalone cluster on this machine: one master and two workers, run from the pyspark
# distribution of the core environment (.venvs/core). The jobs run on it unchanged with
#   CIVICLAKE_SPARK_MASTER=spark://127.0.0.1:7077
#
#   infra/spark/cluster.sh start    start what is not running; returns once every worker registered
#   infra/spark/cluster.sh stop     stop the workers (and their executors), then the master
#   infra/spark/cluster.sh status   the master's URL and its alive workers (exit 1: not running)
#
# Settings (environment):
#   CIVICLAKE_SPARK_CLUSTER_HOST     address everything binds to (127.0.0.1)
#   CIVICLAKE_SPARK_CLUSTER_PORT     the master's port (7077)
#   CIVICLAKE_SPARK_CLUSTER_UI_PORT  the master's web UI and its JSON state, /json/ (8180; not
#                                    8080, Airflow's); the workers' UIs take free ports
#   CIVICLAKE_SPARK_CLUSTER_WORKERS  how many workers (2)
#   CIVICLAKE_SPARK_WORKER_CORES     cores each worker offers (1)
#   CIVICLAKE_SPARK_WORKER_MEMORY    memory each worker offers its executors (2g)
#   CIVICLAKE_SPARK_CLUSTER_DIR      pid files, logs and the workers' work directories
#                                    (${CIVICLAKE_DATA_DIR:-var}/spark-cluster)
#
# The daemons start with a clean environment that holds no secret: the workers pass their
# environment on to the executors, and what a job needs there travels with the job (the
# driver's Python interpreter, its closures, spark.executorEnv.* of civiclake.spark).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"

host="${CIVICLAKE_SPARK_CLUSTER_HOST:-127.0.0.1}"
port="${CIVICLAKE_SPARK_CLUSTER_PORT:-7077}"
ui_port="${CIVICLAKE_SPARK_CLUSTER_UI_PORT:-8180}"
workers="${CIVICLAKE_SPARK_CLUSTER_WORKERS:-2}"
worker_cores="${CIVICLAKE_SPARK_WORKER_CORES:-1}"
worker_memory="${CIVICLAKE_SPARK_WORKER_MEMORY:-2g}"
state="${CIVICLAKE_SPARK_CLUSTER_DIR:-${CIVICLAKE_DATA_DIR:-$ROOT/var}/spark-cluster}"
python="$VENVS/core/bin/python"
master_url="spark://$host:$port"
state_url="http://$host:$ui_port/json/"

say() { echo "[spark-cluster] $*"; }
die() { echo "[spark-cluster] $*" >&2; exit 1; }

spark_home() {
  [ -x "$python" ] || die "no core environment at $VENVS/core: run \`bash infra/setup.sh core\`"
  local home
  home="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" \
    || die "pyspark is not installed in $VENVS/core"
  [ -x "$home/bin/spark-class" ] || die "$home/bin/spark-class is missing: the pyspark distribution lacks its launch scripts"
  echo "$home"
}

# The master's JSON state, one field or the alive workers: master_state url|alive
master_state() {
  "$python" - "$state_url" "$1" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as answer:
    master = json.load(answer)
if sys.argv[2] == "alive":
    print(sum(1 for w in master["workers"] if w["state"] == "ALIVE"))
else:
    print(master[sys.argv[2]])
PY
}

# launch NAME CLASS ARGS...: a daemon in its own session (its executors join its process
# group, so one signal reaches them all), with only the variables Spark needs.
launch() {
  local name="$1" class="$2" home
  shift 2
  home="$(spark_home)"
  local -a environment=(
    "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=${HOME:-/root}" "LANG=C.UTF-8" "LC_ALL=C.UTF-8"
    "SPARK_HOME=$home" "SPARK_LOCAL_IP=$host" "SPARK_LOG_DIR=$state" "SPARK_PID_DIR=$state"
    "SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}" "SPARK_NO_DAEMONIZE=1"
  )
  [ -z "${JAVA_HOME:-}" ] || environment+=("JAVA_HOME=$JAVA_HOME")
  [ -z "${TMPDIR:-}" ] || environment+=("TMPDIR=$TMPDIR")
  if [ "$name" != master ]; then
    # The executors' scratch space (shuffle files, spills) inside the worker's own folder.
    environment+=("SPARK_LOCAL_DIRS=$state/$name/local")
    mkdir -p "$state/$name/local"
  fi
  setsid env -i "${environment[@]}" "$home/bin/spark-class" "$class" "$@" \
    >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

wait_for() {  # wait_for WHAT SECONDS TEST...
  local what="$1" seconds="$2"
  shift 2
  for _ in $(seq 1 "$((seconds * 2))"); do
    if "$@"; then return 0; fi
    sleep 0.5
  done
  for log in "$state"/*.log; do
    echo "--- $log" >&2
    tail -n 20 "$log" >&2
  done
  die "$what did not happen in $seconds s (logs above, in $state)"
}

master_answers() { [ "$(master_state url)" = "$master_url" ]; }
# Every worker started now has registered (its log says so: a worker killed a moment ago still
# counts as alive at the master until its heartbeats are overdue), and the master counts them.
workers_alive() {
  local name
  for name in "${launched[@]}"; do
    grep -q "Successfully registered with master" "$state/$name.log" || return 1
  done
  [ "$(master_state alive)" -ge "$workers" ] 2>/dev/null
}
master_up() { pid_alive "$state/master.pid" || die "the master exited during start: see $state/master.log"; master_answers; }

start() {
  mkdir -p "$state"
  local started=0
  launched=()
  if pid_alive "$state/master.pid"; then
    master_answers || die "the master (pid $(cat "$state/master.pid")) does not answer at $state_url"
  else
    if master_state url >/dev/null; then
      die "something else answers at $state_url (no master of ours): stop it or set CIVICLAKE_SPARK_CLUSTER_UI_PORT"
    fi
    say "starting the master at $master_url (state at $state_url)"
    launch master org.apache.spark.deploy.master.Master --host "$host" --port "$port" --webui-port "$ui_port"
    wait_for "the master's start" 60 master_up
    started=1
  fi
  for i in $(seq 1 "$workers"); do
    if pid_alive "$state/worker-$i.pid"; then continue; fi
    say "starting worker-$i ($worker_cores core, $worker_memory, work directory $state/worker-$i)"
    launch "worker-$i" org.apache.spark.deploy.worker.Worker --host "$host" --port 0 --webui-port 0 \
      --cores "$worker_cores" --memory "$worker_memory" --work-dir "$state/worker-$i" "$master_url"
    launched+=("worker-$i")
    started=1
  done
  wait_for "the registration of $workers workers" 90 workers_alive
  if [ "$started" = 0 ]; then
    say "already running: $master_url, $(master_state alive) alive workers"
  else
    say "running: $master_url, $(master_state alive) alive workers"
  fi
}

stop() {
  local name pid stopped=0
  for pidfile in "$state"/worker-*.pid "$state/master.pid"; do
    [ -f "$pidfile" ] || continue
    name="$(basename "$pidfile" .pid)"
    if pid_alive "$pidfile"; then
      pid="$(cat "$pidfile")"
      stop_process "$pid" "spark-cluster $name" group
      say "stopped $name (pid $pid)"
      stopped=1
    fi
    rm -f "$pidfile"
  done
  [ "$stopped" = 1 ] || say "not running"
}

status() {
  if ! pid_alive "$state/master.pid"; then
    say "not running (no master; state in $state)"
    return 1
  fi
  if ! master_answers; then
    say "the master (pid $(cat "$state/master.pid")) does not answer at $state_url"
    return 1
  fi
  local i running=0
  for i in $(seq 1 "$workers"); do
    if pid_alive "$state/worker-$i.pid"; then running=$((running + 1)); fi
  done
  say "master $master_url (pid $(cat "$state/master.pid")), $(master_state alive) alive workers" \
    "($running of $workers worker processes running), state at $state_url"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
