"""Interpreted against compiled expression evaluation, on a real daily step.

The same day of basic-resource registry extracts (households, buildings, legal entities,
cameras, vehicles, teams, departments: about 14,600 rows) is ingested from scratch by
``civiclake ingest resources`` (bronze, checks, quarantine, SCD2 MERGE, reconciliation),
once with ``CIVICLAKE_SPARK_INTERPRETED=false`` (Spark's generated code) and once with the
default (interpreted), alternating, each in a new process on a fresh copy of the extract.
The wall time includes the JVM start, as a DAG task pays it.

    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_evaluation.py --repeat 2
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


def civiclake(data_dir: Path, *args: str, interpreted: bool) -> float:
    env = os.environ | {
        "CIVICLAKE_DATA_DIR": str(data_dir),
        "CIVICLAKE_JARS_DIR": str(PROJECT_ROOT / "var" / "jars"),
        "CIVICLAKE_SPARK_INTERPRETED": str(interpreted).lower(),
    }
    started = time.perf_counter()
    subprocess.run([str(CLI), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("CIVICLAKE_PII_KEY"):
        raise SystemExit("CIVICLAKE_PII_KEY is not set: source var/secrets.env first")
    work = Path(tempfile.mkdtemp(prefix="bench-spark-evaluation-"))
    extract = work / "extract"
    civiclake(extract, "simulate", "resources", "--date", DAY, interpreted=True)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        for interpreted in (False, True):
            run = work / "run"
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(extract, run)
            seconds[interpreted].append(
                civiclake(run, "ingest", "resources", "--date", DAY, interpreted=interpreted)
            )
    shutil.rmtree(work, ignore_errors=True)
    compiled, interpreted = (statistics.median(seconds[k]) for k in (False, True))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runs: {args.repeat} each, alternating")
    print(f"ingest resources, compiled (Spark's default): median {compiled:.1f} s {seconds[False]}")
    print(f"ingest resources, interpreted (civiclake):    median {interpreted:.1f} s {seconds[True]}")
    print(f"compiled / interpreted: {compiled / interpreted:.2f}x")


if __name__ == "__main__":
    main()
