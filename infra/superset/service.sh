# How Superset's processes run (sourced by infra/superset/*.sh after env.sh, not run).
# The web server answers residents' and leaders' browsers, so it runs as its own
# unprivileged user and sees only what superset_config.py reads: a flaw in it then
# reaches neither the PII key, nor the source systems' or Airflow's database, nor the
# lake. Run as root, these functions drop to that user; run as anyone else, they run
# as the caller (already unprivileged), with the same narrowed environment.

SUPERSET_SERVICE_USER="${CIVICLAKE_SUPERSET_USER:-civiclake-superset}"

# The whole environment a Superset process gets, besides PATH and HOME (set below).
# tests/unit/test_superset_service.py checks it against superset_config.py.
SUPERSET_SERVICE_VARS=(
  LANG LC_ALL TZ PYTHONWARNINGS
  FLASK_APP SUPERSET_CONFIG_PATH SUPERSET_HOME SUPERSET_HOST SUPERSET_PORT
  SUPERSET_SECRET_KEY SUPERSET_GUEST_TOKEN_SECRET
  SUPERSET_PG_USER SUPERSET_PG_PASSWORD SUPERSET_META_DB CIVICLAKE_PG_HOST CIVICLAKE_PG_PORT
  CIVICLAKE_SUPERSET_PROXY_FIX CIVICLAKE_SUPERSET_REDIS_URL
)

# superset_service_env: prints NAME=value, NUL-separated, for each variable a Superset
# process gets: the list above (those set), PATH with the Superset environment first,
# HOME in Superset's own folder (DuckDB and Python caches write there).
superset_service_env() {
  local name
  printf '%s\0' "PATH=$SUPERSET_VENV/bin:/usr/local/bin:/usr/bin:/bin" "HOME=$SUPERSET_HOME" \
    "LANG=${LANG:-C.UTF-8}"
  for name in "${SUPERSET_SERVICE_VARS[@]}"; do
    if [ "$name" != LANG ] && [ -n "${!name+set}" ]; then printf '%s\0' "$name=${!name}"; fi
  done
}

# Started under `env -i`, this exports what arrives on file descriptor 3 and runs its
# arguments: the values never appear on a command line, which every local user can
# read in /proc.
_SUPERSET_LOAD_ENV='while IFS= read -r -d "" pair; do export "$pair"; done <&3; exec 3<&-; unset pair; exec "$@"'

# The command prefix that becomes the service user (none when not root).
_superset_privileges() {
  SUPERSET_PRIVILEGES=()
  if [ "$(id -u)" = 0 ]; then
    SUPERSET_PRIVILEGES=(setpriv --reuid="$SUPERSET_SERVICE_USER" --regid="$(id -g "$SUPERSET_SERVICE_USER")"
                         --init-groups --no-new-privs --inh-caps=-all --)
  fi
}

# run_as_superset CMD...: CMD as the service user, with nothing of the caller's
# environment but superset_service_env, from the code's folder (which that user may
# read but not change).
run_as_superset() {
  _superset_privileges
  (
    cd "$ROOT"
    exec "${SUPERSET_PRIVILEGES[@]}" env -i /bin/bash -c "$_SUPERSET_LOAD_ENV" superset "$@" \
      3< <(superset_service_env)
  )
}

# _superset_closed_folders: each folder from / down to the repository that the service
# user may not pass through, one a line, outermost first.
_superset_closed_folders() {
  _superset_privileges
  local dir="" part
  local -a parts
  IFS=/ read -ra parts <<< "${ROOT#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    "${SUPERSET_PRIVILEGES[@]}" test -x "$dir" || echo "$dir"
  done
}

# superset_service_path_open: as root (set-up), lets the service user pass through each
# folder above the repository that keeps other users out (o+x: pass, not list), saying
# so for each; a deployment that keeps the code under /opt or /srv changes nothing here.
superset_service_path_open() {
  [ "$(id -u)" = 0 ] || return 0
  _superset_privileges
  local dir
  while IFS= read -r dir; do
    # Checked again: a folder is closed to the user while one above it was.
    "${SUPERSET_PRIVILEGES[@]}" test -x "$dir" && continue
    chmod o+x "$dir"
    echo "[superset] $dir now lets other users pass through (chmod o+x, no listing), so that" \
         "$SUPERSET_SERVICE_USER reaches the code under $ROOT"
  done < <(_superset_closed_folders)
}

# superset_service_ready: as root, checks that the service user exists and can reach
# the code and run the Superset environment, and says what to fix otherwise. Superset
# is never started as root instead.
superset_service_ready() {
  [ "$(id -u)" = 0 ] || return 0
  if ! id -u "$SUPERSET_SERVICE_USER" >/dev/null 2>&1; then
    echo "[superset] user $SUPERSET_SERVICE_USER does not exist: run bash infra/superset/setup.sh (as root) to create it" >&2
    return 1
  fi
  _superset_privileges
  local dir
  dir="$(_superset_closed_folders | head -n 1)"
  if [ -n "$dir" ]; then
    echo "[superset] $dir (mode $(stat -c %A "$dir"), owner $(stat -c %U:%G "$dir")) does not let" \
         "other users through, so $SUPERSET_SERVICE_USER cannot read Superset's code and" \
         "environment under $ROOT. Run bash infra/superset/setup.sh (allows passing, not listing)," \
         "or put the repository under folders others may enter; Superset is not started as root instead." >&2
    return 1
  fi
  # Through a shell, as the service starts: setpriv itself still finds the program with
  # root's rights.
  if ! "${SUPERSET_PRIVILEGES[@]}" /bin/sh -c 'exec "$0" -c "import gunicorn"' "$SUPERSET_VENV/bin/python" \
       </dev/null >/dev/null 2>&1; then
    echo "[superset] $SUPERSET_SERVICE_USER cannot run $SUPERSET_VENV/bin/python (interpreter:" \
         "$(readlink -f "$SUPERSET_VENV/bin/python")): run bash infra/superset/setup.sh, which" \
         "builds it on an interpreter that user can run" >&2
    return 1
  fi
}

# superset_service_files: as root, gives the service user its own folder and the
# published marts to read, and nothing else under var/: var/ lets it pass but not
# list, and every other entry there (lake, landing files, secrets.env, Airflow, the
# marts build area) becomes root's alone. Steps run as root (set-up) may have left
# files in var/superset: they become the service's.
superset_service_files() {
  [ "$(id -u)" = 0 ] || return 0
  local var="$ROOT/var" marts="$ROOT/var/marts" entry
  chmod 0711 "$var"
  for entry in "$var"/* "$var"/.[!.]*; do
    [ -e "$entry" ] || continue
    case "$entry" in "$SUPERSET_HOME" | "$marts") continue ;; esac
    chmod go-rwx "$entry"
  done
  chown -R "$SUPERSET_SERVICE_USER:$(id -g "$SUPERSET_SERVICE_USER")" "$SUPERSET_HOME"
  chmod 0700 "$SUPERSET_HOME"
  mkdir -p "$marts"
  chown "root:$(id -g "$SUPERSET_SERVICE_USER")" "$marts"
  chmod 0710 "$marts"
  for entry in "$marts"/* "$marts"/.[!.]*; do
    [ -e "$entry" ] || continue
    if [ "$entry" = "$marts/civiclake.duckdb" ]; then chmod 0644 "$entry"; else chmod go-rwx "$entry"; fi
  done
}

# superset_can_read FILE: whether Superset's processes can read FILE (a marts file).
superset_can_read() {
  _superset_privileges
  "${SUPERSET_PRIVILEGES[@]}" test -r "$1"
}
