"""A day's Spark commands, each in a session of its own against all on one warm Spark driver.

One day of the file-export families (basic-resource registries, party building, people
services, fleet positions) is simulated once; then ``civiclake ingest <family>`` runs for each,
one after the other as the daily DAG runs them, on a fresh copy of the day:
- own sessions: each command a new process with its own Spark session (a new JVM);
- warm driver: a driver started for the run (``infra/spark/driver.sh start``, its start
  counted), each command a new process that sends itself there (civiclake/cli/driver.py).
The two alternate; the report gives each command's time, the totals and their ratio.

    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_driver.py --repeat 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from civiclake.settings import PROJECT_ROOT

DAY = "2026-11-25"
CLI = PROJECT_ROOT / ".venvs" / "core" / "bin" / "civiclake"
DRIVER = PROJECT_ROOT / "infra" / "spark" / "driver.sh"
FAMILIES = ("resources", "party", "services", "positions")
OWN, WARM = "own sessions", "warm driver"


def _env(data_dir: Path, socket: Path | None) -> dict[str, str]:
    env = os.environ | {
        "CIVICLAKE_DATA_DIR": str(data_dir),
        "CIVICLAKE_JARS_DIR": str(PROJECT_ROOT / "var" / "jars"),
    }
    env.pop("CIVICLAKE_SPARK_DRIVER_SOCKET", None)
    return env | ({"CIVICLAKE_SPARK_DRIVER_SOCKET": str(socket)} if socket else {})


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def one_run(extract: Path, run: Path, mode: str) -> dict[str, float]:
    """The day's ingests on a fresh copy of ``extract``; seconds per step."""
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(extract, run)
    socket = run / "run" / "spark-driver.sock" if mode == WARM else None
    env = _env(run, socket)
    seconds = {}
    if socket:
        seconds["driver start"] = timed(["bash", str(DRIVER), "start"], env)
    try:
        for family in FAMILIES:
            seconds[family] = timed([str(CLI), "ingest", family, "--date", DAY], env)
    finally:
        if socket:
            subprocess.run(["bash", str(DRIVER), "stop"], env=env, check=True, capture_output=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("CIVICLAKE_PII_KEY"):
        raise SystemExit("CIVICLAKE_PII_KEY is not set: source var/secrets.env first")
    work = Path(tempfile.mkdtemp(prefix="bench-spark-driver-"))
    extract = work / "extract"
    for family in FAMILIES:
        timed([str(CLI), "simulate", family, "--date", DAY], _env(extract, None))
    runs: dict[str, list[dict[str, float]]] = {OWN: [], WARM: []}
    for _ in range(args.repeat):
        for mode in (OWN, WARM):
            runs[mode].append(one_run(extract, work / "run", mode))
    shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runs: {args.repeat} each, alternating")
    totals = {}
    for mode, measured in runs.items():
        steps = {step: statistics.median(run[step] for run in measured) for step in measured[0]}
        totals[mode] = statistics.median(sum(run.values()) for run in measured)
        listed = ", ".join(f"{step} {value:.1f} s" for step, value in steps.items())
        print(f"{mode}: total median {totals[mode]:.1f} s ({listed})")
    print(f"{OWN} / {WARM}: {totals[OWN] / totals[WARM]:.2f}x")


if __name__ == "__main__":
    main()
