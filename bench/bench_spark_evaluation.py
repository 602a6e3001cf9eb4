"""Interpreted against compiled expression evaluation, on a real daily step.

The same day of basic-resource registry extracts (households, buildings, legal entities,
cameras, vehicles, teams, departments: about 14,600 rows) is ingested from scratch by
``civiclake ingest resources`` (bronze, checks, quarantine, SCD2 MERGE, reconciliation),
once with ``CIVICLAKE_SPARK_INTERPRETED=false`` (Spark's generated code) and once with the
default (interpreted), alternating, each in a new process on a fresh copy of the extract.
The wall time includes the JVM start, as a DAG task pays it.

With ``--marts-lake LAKE`` it times the marts on dbt's spark target instead (``dbt seed`` and
``dbt run --target spark`` as of ``--as-of``, a new warehouse each time) on that lake, which
is only read: the dbt session follows the same rule as the jobs (``civiclake/marts.py``).

    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_evaluation.py --repeat 2
    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_evaluation.py \
        --marts-lake var/lake --as-of 2026-11-25 --repeat 1
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


PYTHON = PROJECT_ROOT / ".venvs" / "core" / "bin" / "python"
# The spark target's build in a new process: dbt's seeds, then every model as of a day.
MARTS_ON_SPARK = """
import json, sys
from civiclake import marts
from civiclake.settings import Settings
settings = Settings()
marts.run_dbt(settings, "seed", "--target", "spark")
marts.run_dbt(settings, "run", "--target", "spark", "--vars", json.dumps({"as_of": sys.argv[1]}))
"""


def _env(data_dir: Path, interpreted: bool, **more: str) -> dict[str, str]:
    return (
        os.environ
        | more
        | {
            "CIVICLAKE_DATA_DIR": str(data_dir),
            "CIVICLAKE_JARS_DIR": str(PROJECT_ROOT / "var" / "jars"),
            "CIVICLAKE_SPARK_INTERPRETED": str(interpreted).lower(),
        }
    )


def civiclake(data_dir: Path, *args: str, interpreted: bool) -> float:
    started = time.perf_counter()
    subprocess.run([str(CLI), *args], env=_env(data_dir, interpreted), check=True, capture_output=True)
    return time.perf_counter() - started


def marts_on_spark(data_dir: Path, lake: Path, as_of: str, *, interpreted: bool) -> float:
    env = _env(data_dir, interpreted, CIVICLAKE_LAKE_PATH=str(lake.resolve()))
    started = time.perf_counter()
    subprocess.run([str(PYTHON), "-c", MARTS_ON_SPARK, as_of], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--marts-lake", type=Path, help="time the marts on dbt's spark target on this lake")
    parser.add_argument("--as-of", default=DAY, help="the marts' day (with --marts-lake)")
    args = parser.parse_args()
    if not os.environ.get("CIVICLAKE_PII_KEY"):
        raise SystemExit("CIVICLAKE_PII_KEY is not set: source var/secrets.env first")
    work = Path(tempfile.mkdtemp(prefix="bench-spark-evaluation-"))
    extract = work / "extract"
    if args.marts_lake:
        step = f"marts on dbt's spark target ({args.marts_lake}, as of {args.as_of})"
    else:
        step = "ingest resources"
        civiclake(extract, "simulate", "resources", "--date", DAY, interpreted=True)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        for interpreted in (False, True):
            run = work / "run"
            shutil.rmtree(run, ignore_errors=True)
            if args.marts_lake:
                run.mkdir()
                seconds[interpreted].append(
                    marts_on_spark(run, args.marts_lake, args.as_of, interpreted=interpreted)
                )
                continue
            shutil.copytree(extract, run)
            seconds[interpreted].append(
                civiclake(run, "ingest", "resources", "--date", DAY, interpreted=interpreted)
            )
    shutil.rmtree(work, ignore_errors=True)
    compiled, interpreted = (statistics.median(seconds[k]) for k in (False, True))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runs: {args.repeat} each, alternating")
    print(f"{step}, compiled (Spark's default): median {compiled:.1f} s {seconds[False]}")
    print(f"{step}, interpreted (civiclake):    median {interpreted:.1f} s {seconds[True]}")
    print(f"compiled / interpreted: {compiled / interpreted:.2f}x")


if __name__ == "__main__":
    main()
