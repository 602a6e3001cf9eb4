"""Spark's defaults against civiclake's local-mode settings, on a real daily step.

The same day of basic-resource registry extracts (households, buildings, legal entities,
cameras, vehicles, teams, departments: about 14,600 rows) is ingested from scratch by
``civiclake ingest resources`` (bronze, checks, quarantine, SCD2 MERGE, reconciliation),
once with Spark's default and once with civiclake's, alternating, each in a new process on
a fresh copy of the extract. The wall time includes the JVM start, as a DAG task pays it.
``--compare`` picks the setting: ``evaluation`` (the default) compares compiled expressions
(``CIVICLAKE_SPARK_INTERPRETED=false``) with interpreted ones; ``adaptive`` compares
adaptive query execution (``CIVICLAKE_SPARK_ADAPTIVE=true``) with queries planned once.

With ``--marts-lake LAKE`` it times the marts on dbt's spark target instead (``dbt seed`` and
``dbt run --target spark`` as of ``--as-of``, a new warehouse each time) on that lake, which
is only read: the dbt session follows the same rule as the jobs (``civiclake/marts.py``).

    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_evaluation.py --repeat 2
    source var/secrets.env && .venvs/core/bin/python bench/bench_spark_evaluation.py \
        --compare adaptive --repeat 3
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


# Each comparison: the setting's variable, its value for Spark's default and for civiclake's
# local mode, and how the two are named in the report.
COMPARISONS = {
    "evaluation": ("CIVICLAKE_SPARK_INTERPRETED", ("false", "true"), ("compiled", "interpreted")),
    "adaptive": ("CIVICLAKE_SPARK_ADAPTIVE", ("true", "false"), ("adaptive", "planned once")),
}


def _env(data_dir: Path, setting: dict[str, str], **more: str) -> dict[str, str]:
    return (
        os.environ
        | more
        | setting
        | {"CIVICLAKE_DATA_DIR": str(data_dir), "CIVICLAKE_JARS_DIR": str(PROJECT_ROOT / "var" / "jars")}
    )


def civiclake(data_dir: Path, *args: str, setting: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(CLI), *args], env=_env(data_dir, setting), check=True, capture_output=True)
    return time.perf_counter() - started


def marts_on_spark(data_dir: Path, lake: Path, as_of: str, *, setting: dict[str, str]) -> float:
    env = _env(data_dir, setting, CIVICLAKE_LAKE_PATH=str(lake.resolve()))
    started = time.perf_counter()
    subprocess.run([str(PYTHON), "-c", MARTS_ON_SPARK, as_of], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="evaluation")
    parser.add_argument("--marts-lake", type=Path, help="time the marts on dbt's spark target on this lake")
    parser.add_argument("--as-of", default=DAY, help="the marts' day (with --marts-lake)")
    args = parser.parse_args()
    if not os.environ.get("CIVICLAKE_PII_KEY"):
        raise SystemExit("CIVICLAKE_PII_KEY is not set: source var/secrets.env first")
    variable, values, names = COMPARISONS[args.compare]
    choices = [{variable: value} for value in values]  # Spark's default, then civiclake's
    work = Path(tempfile.mkdtemp(prefix="bench-spark-evaluation-"))
    extract = work / "extract"
    if args.marts_lake:
        step = f"marts on dbt's spark target ({args.marts_lake}, as of {args.as_of})"
    else:
        step = "ingest resources"
        civiclake(extract, "simulate", "resources", "--date", DAY, setting={})
    seconds: list[list[float]] = [[], []]
    for _ in range(args.repeat):
        for which, setting in enumerate(choices):
            run = work / "run"
            shutil.rmtree(run, ignore_errors=True)
            if args.marts_lake:
                run.mkdir()
                seconds[which].append(marts_on_spark(run, args.marts_lake, args.as_of, setting=setting))
                continue
            shutil.copytree(extract, run)
            seconds[which].append(civiclake(run, "ingest", "resources", "--date", DAY, setting=setting))
    shutil.rmtree(work, ignore_errors=True)
    spark_default, civiclake_local = (statistics.median(s) for s in seconds)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runs: {args.repeat} each, alternating")
    print(
        f"{step}, {names[0]} (Spark's default, {variable}={values[0]}): median {spark_default:.1f} s {seconds[0]}"
    )
    print(
        f"{step}, {names[1]} (civiclake, {variable}={values[1]}): median {civiclake_local:.1f} s {seconds[1]}"
    )
    print(f"{names[0]} / {names[1]}: {spark_default / civiclake_local:.2f}x")


if __name__ == "__main__":
    main()
