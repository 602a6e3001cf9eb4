"""Running Airflow's own CLI from the core environment's tests: the two environments share no
packages, so every Airflow command is a subprocess with ``infra/airflow/env.sh`` sourced."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = ROOT / ".venvs" / "airflow"

# A module mark: its tests need the Airflow environment, which `make test` sets up.
needs_airflow = pytest.mark.skipif(
    not (AIRFLOW_VENV / "bin" / "airflow").exists(),
    reason=f"no Airflow environment at {AIRFLOW_VENV}; create it with "
    "`bash infra/airflow/setup.sh` (or `bash infra/setup.sh`)",
)


def airflow(
    *cmd: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """A command with infra/airflow/env.sh sourced (Airflow's environment first on PATH)."""
    full = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")} | (env or {})
    return subprocess.run(
        ["bash", "-c", 'source infra/airflow/env.sh && exec "$@"', "_", *cmd],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def explain(proc: subprocess.CompletedProcess, lines: int = 60) -> str:
    """The exit code and the last lines of a command's output, for an assertion message."""
    tail = "\n".join((proc.stdout + "\n" + proc.stderr).splitlines()[-lines:])
    return f"exit {proc.returncode}; last lines:\n{tail}"
