# Shared shell helpers for infra/ scripts (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.venvs"
PYTHON_VERSION="${CIVICLAKE_PYTHON_VERSION:-3.11}"

# A Python interpreter of the wanted version: pyenv's, or the system's.
#   base_python [USER]: one that USER can run as well (a virtualenv links to its
#   interpreter, and a service user cannot enter root's home, where pyenv lives).
base_python() {
  local candidate user="${1:-}"
  for candidate in "$(command -v "python$PYTHON_VERSION" 2>/dev/null)" \
                   "$HOME/.pyenv/versions/$(pyenv latest "$PYTHON_VERSION" 2>/dev/null)/bin/python$PYTHON_VERSION" \
                   "/usr/bin/python$PYTHON_VERSION" /usr/bin/python3; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then
      if [ -n "$user" ]; then
        # The real file: pyenv's shim would look for pyenv in the caller's home.
        candidate="$("$candidate" -c 'import os, sys; print(os.path.realpath(sys.executable))')"
        # Through a shell: setpriv itself still finds the program with root's rights.
        setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all \
          /bin/sh -c 'exec "$0" -c "import venv"' "$candidate" 2>/dev/null || continue
      fi
      echo "$candidate"; return
    fi
  done
  echo "no usable python$PYTHON_VERSION found${user:+ that user $user can run}" >&2; return 1
}

# uv, installed once into its own small virtualenv.
uv_bin() {
  if [ ! -x "$VENVS/bootstrap/bin/uv" ]; then
    "$(base_python)" -m venv "$VENVS/bootstrap"
    "$VENVS/bootstrap/bin/pip" install -q "uv==0.13.9"
  fi
  echo "$VENVS/bootstrap/bin/uv"
}

# make_venv NAME REQUIREMENTS [EXTRA_PIP_ARGS...]
# Creates .venvs/NAME from a pinned requirements file; skipped when the stamp
# (hash of the requirements and extra args) says nothing changed. VENV_PYTHON, if
# set, is the interpreter to build on: a virtualenv on another one is made anew.
# Its packages are compiled to bytecode once, here (compile_packages).
make_venv() {
  local name="$1" req="$2"; shift 2
  local venv="$VENVS/$name" stamp="$VENVS/$name/.civiclake-stamp" uv want
  # An editable project (`-e DIR`) counts with its pyproject.toml: a new package there
  # must reach the environment's import mapping.
  want="$( (cat "$req"; echo "$*"; [ -z "${VENV_PYTHON:-}" ] || echo "$VENV_PYTHON"
            echo "$BYTECODE"
            for arg in "$@"; do [ ! -f "$arg/pyproject.toml" ] || cat "$arg/pyproject.toml"; done
          ) | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  uv="$(uv_bin)"
  echo "[$name] building virtualenv $venv"
  if [ -n "${VENV_PYTHON:-}" ] && [ -x "$venv/bin/python" ] \
     && [ "$(readlink -f "$venv/bin/python")" != "$(readlink -f "$VENV_PYTHON")" ]; then
    echo "[$name] rebuilding on $VENV_PYTHON (was $(readlink -f "$venv/bin/python"))"
    rm -rf "$venv"
  fi
  [ -x "$venv/bin/python" ] || "$uv" venv -q --python "${VENV_PYTHON:-$(base_python)}" "$venv"
  "$uv" pip install -q --python "$venv/bin/python" -r "$req" "$@"
  compile_packages "$venv/bin/python" "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
  echo "$want" > "$stamp"
}

# What make_venv's stamp records about bytecode: environments stamped before it
# compiled their packages are built (compiled) once more.
BYTECODE="compiled"

# compile_packages PYTHON DIR...: every module under DIR compiled to bytecode with PYTHON.
# Python writes no bytecode where PYTHONDONTWRITEBYTECODE is set (this machine's images
# set it), so without this each new process compiles every module it imports from source
# again: 3.5 s of a quality check's 7 s import of Great Expectations, half of an `airflow`
# or `superset` command's start (bench/bench_bytecode.py). A module that does not compile
# (a package's Python 2 example) is imported by no one: compileall's complaint is dropped.
compile_packages() {
  local python="$1"; shift
  "$python" -m compileall -q -j 0 "$@" >/dev/null 2>&1 || true
}

# pid_alive PIDFILE: whether the process the file names runs.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_process PID NAME [GROUP]: TERM, up to 30 s to exit, then KILL. With GROUP=group
# the signals go to the process group PID leads (a service started with setsid).
stop_process() {
  local pid="$1" name="$2" target="$1"
  [ "${3:-}" != group ] || target="-$1"
  kill -TERM -- "$target" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 1
  done
  echo "[$name] pid $pid did not stop in 30 s; sending KILL"
  kill -KILL -- "$target" 2>/dev/null || true
}
