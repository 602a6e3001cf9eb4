# Shared shell helpers for infra/ scripts (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.venvs"
PYTHON_VERSION="${CIVICLAKE_PYTHON_VERSION:-3.11}"

# A Python interpreter of the wanted version: pyenv's, or the system's.
base_python() {
  local candidate
  for candidate in "$(command -v "python$PYTHON_VERSION" 2>/dev/null)" \
                   "$HOME/.pyenv/versions/$(pyenv latest "$PYTHON_VERSION" 2>/dev/null)/bin/python$PYTHON_VERSION" \
                   /usr/bin/python3; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "no usable python$PYTHON_VERSION found" >&2; return 1
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
# (hash of the requirements and extra args) says nothing changed.
make_venv() {
  local name="$1" req="$2"; shift 2
  local venv="$VENVS/$name" stamp="$VENVS/$name/.civiclake-stamp" uv want
  want="$( (cat "$req"; echo "$*") | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  uv="$(uv_bin)"
  echo "[$name] building virtualenv $venv"
  [ -x "$venv/bin/python" ] || "$uv" venv -q --python "$(base_python)" "$venv"
  "$uv" pip install -q --python "$venv/bin/python" -r "$req" "$@"
  echo "$want" > "$stamp"
}
