"""The start of a Python command with its packages compiled to bytecode, against from source.

``infra/lib.sh`` (``make_venv``) compiles each environment's packages once, when it builds
the environment: where ``PYTHONDONTWRITEBYTECODE`` is set, as on this project's machines,
Python never writes the bytecode it compiles, and every new process would compile each module
it imports again. Each step of a DAG run is such a process, and so is every ``airflow``,
``superset`` or ``dbt`` command.

Each command below starts in a new process, alternately with the environment as built (its
bytecode) and from source (``PYTHONPYCACHEPREFIX`` pointing at an empty folder, so that
Python finds no bytecode, and ``PYTHONDONTWRITEBYTECODE=1``, so that it writes none). Wall
and CPU time (user + system) of the process are measured.

    .venvs/core/bin/python bench/bench_bytecode.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time

from civiclake.settings import PROJECT_ROOT

VENVS = PROJECT_ROOT / ".venvs"
# What starts in the processes of a daily run: a quality gate (Great Expectations), a dbt
# layer, the classifier's training (scikit-learn), an Airflow command, Superset's app.
COMMANDS = {
    "quality gate import (core: quality.gate)": [
        VENVS / "core" / "bin" / "python",
        "-c",
        "import quality.gate",
    ],
    "dbt import (core: dbt.cli.main)": [VENVS / "core" / "bin" / "python", "-c", "import dbt.cli.main"],
    "scikit-learn import (core: sklearn.linear_model)": [
        VENVS / "core" / "bin" / "python",
        "-c",
        "import sklearn.linear_model",
    ],
    "`airflow version` (airflow)": [VENVS / "airflow" / "bin" / "airflow", "version"],
    "Superset's app import (superset: superset.app)": [
        VENVS / "superset" / "bin" / "python",
        "-c",
        "import superset.app",
    ],
}


def timed(command: list, env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of ``command`` in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(c) for c in command], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runs: {args.repeat} each, alternating")
    print("| command | from source: wall / cpu | compiled: wall / cpu | source / compiled (cpu) |")
    print("| --- | --- | --- | --- |")
    for name, command in COMMANDS.items():
        if not os.access(command[0], os.X_OK):
            print(f"| {name} | no {command[0]}: run `bash infra/setup.sh` | | |")
            continue
        with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as empty:
            compiled_env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
            source_env = compiled_env | {"PYTHONPYCACHEPREFIX": empty}
            times: dict[str, list[tuple[float, float]]] = {"source": [], "compiled": []}
            timed(command, compiled_env)  # the files in the page cache for both
            for _ in range(args.repeat):
                times["source"].append(timed(command, source_env))
                times["compiled"].append(timed(command, compiled_env))
        (source_wall, source_cpu), (compiled_wall, compiled_cpu) = (
            (statistics.median(t[0] for t in runs), statistics.median(t[1] for t in runs))
            for runs in (times["source"], times["compiled"])
        )
        print(
            f"| {name} | {source_wall:.2f} s / {source_cpu:.2f} s | {compiled_wall:.2f} s / {compiled_cpu:.2f} s "
            f"| {source_cpu / compiled_cpu:.2f}× |"
        )


if __name__ == "__main__":
    main()
