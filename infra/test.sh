#!/usr/bin/env bash
# Runs every test with the secrets of this machine (var/secrets.env) and the
# local PostgreSQL started. Called by `make test` after infra/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck disable=SC1091
source var/secrets.env
bash infra/postgres/setup.sh >/dev/null
.venvs/core/bin/ruff check civiclake simulators spark_jobs models quality dashboards dags tests bench
.venvs/core/bin/ruff format --check civiclake simulators spark_jobs models quality dashboards dags tests bench
# The layering of DESIGN.md (contracts in pyproject.toml [tool.importlinter]).
.venvs/core/bin/lint-imports --no-cache
# Two workers (tests/conftest.py: a module, or the end-to-end tests, whole on one of them):
# much of a test's time is one JVM's start, a Delta commit or a wait on a service, which
# leaves the second core idle. CIVICLAKE_TEST_WORKERS=0 runs everything in this process.
# The slowest tests at the end of the run: where CI time goes.
exec .venvs/core/bin/pytest tests -n "${CIVICLAKE_TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder \
  --durations=20 "$@"
