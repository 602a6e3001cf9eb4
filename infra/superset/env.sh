# Environment for Superset commands (sourced by infra/superset/*.sh, not run).
# Needs ROOT (from infra/lib.sh). Secrets come from var/secrets.env or the
# environment; nothing secret is written here.
# Like infra/secrets.sh: a variable already set in the environment wins.
if [ -f "$ROOT/var/secrets.env" ]; then
  while IFS= read -r _line; do
    [[ "$_line" =~ ^export\ ([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
    if [ -z "${!BASH_REMATCH[1]:-}" ]; then export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"; fi
  done < "$ROOT/var/secrets.env"
  unset _line
fi
export SUPERSET_CONFIG_PATH="$ROOT/infra/superset/superset_config.py"
export SUPERSET_HOME="$ROOT/var/superset"
export FLASK_APP=superset
export SUPERSET_HOST="${SUPERSET_HOST:-127.0.0.1}"
export SUPERSET_PORT="${SUPERSET_PORT:-8088}"
SUPERSET_VENV="$ROOT/.venvs/superset"
SUPERSET_PIDFILE="$SUPERSET_HOME/superset.pid"
SUPERSET_LOGDIR="$SUPERSET_HOME/logs"
mkdir -p "$SUPERSET_HOME" "$SUPERSET_LOGDIR"
# Superset's CLI is chatty about optional things; keep its output readable.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
