#!/usr/bin/env bash
# Fills Superset's chart-data cache for every civiclake role from the published marts
# (infra/superset/warm_cache.py). Run after `civiclake marts publish`; the daily DAG
# does. Exit code 99 (a skip for the DAG) when Superset is not set up on this host.
# Runs as the web server's user with its environment (service.sh): the cache files it
# writes are the ones the web server reads, and Superset code never runs as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/../lib.sh"
# shellcheck source=infra/superset/env.sh
source "$here/env.sh"
# shellcheck source=infra/superset/service.sh
source "$here/service.sh"
if [ ! -x "$SUPERSET_VENV/bin/python" ] || [ ! -f "$SUPERSET_HOME/.setup-stamp" ]; then
  echo "[warm] Superset is not set up here (bash infra/superset/setup.sh): nothing to warm"
  exit 99
fi
superset_service_ready
superset_service_files

# The marts file as an absolute path: the warm-up runs from the code's folder.
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --marts-file=*) set -- --marts-file "${1#*=}" "${@:2}"; continue ;;
    --marts-file)
      if [ $# -ge 2 ]; then
        args+=("$1" "$(realpath -m -- "$2")")
        if [ -e "${args[-1]}" ] && ! superset_can_read "${args[-1]}"; then
          echo "[warm] warning: $SUPERSET_SERVICE_USER cannot read ${args[-1]}, so Superset cannot" \
               "serve it either: give that user read access to the file and the folders above it" >&2
        fi
        shift
      else
        args+=("$1")
      fi ;;
    *) args+=("$1") ;;
  esac
  shift
done
run_as_superset "$SUPERSET_VENV/bin/python" "$here/warm_cache.py" "${args[@]}"
