"""The marts on both dbt targets, same lake: duckdb (embedded) against spark (dbt-spark,
method: session, local[*]), and the time ratio.

The lake is a year of simulated governance cases and their status history written with
delta-rs (bench_marts_lake.py). ``--scale 1.0`` is Longhua at district scale: about 2,740
cases a day, ≈1 million cases and ≈6.3 million lifecycle events a year. Each target runs
``dbt seed`` and ``dbt run`` (models only; the tests are the same SQL on both) for the last
day as a full refresh; the times include dbt's and Spark's start-up, as a scheduled run
pays them. ``--families`` adds the other source families' small tables
(bench_marts_families.py: every community, not scaled); without it their marts are built
empty.

    .venvs/core/bin/python -m bench.bench_marts_targets --scale 0.1
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.bench_marts_families import write_families
from bench.bench_marts_lake import write_lake_in_chunks
from civiclake import marts
from civiclake.settings import PROJECT_ROOT, Settings

CASES_PER_DAY_AT_SCALE = 2740


def timed_build(settings: Settings, target: str, as_of: date) -> float:
    variables = json.dumps({"as_of": as_of.isoformat()})
    started = time.perf_counter()
    marts.run_dbt(settings, "seed", "--target", target)
    marts.run_dbt(settings, "run", "--target", target, "--vars", variables)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=0.1, help="share of the district's case volume (1.0 ≈ 1M a year)"
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--last", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the lake and builds here")
    parser.add_argument("--targets", default="duckdb,spark")
    parser.add_argument(
        "--families", action="store_true", help="also the party, services, registry and manhole tables"
    )
    parser.add_argument("--reuse-lake", action="store_true", help="build from the lake already in --workdir")
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bench-marts-"))).resolve()
    lake = workdir / "lake"
    cases_per_day = max(1, round(CASES_PER_DAY_AT_SCALE * args.scale))
    first = args.last - timedelta(days=args.days - 1)
    sim = Settings(sim_cases_per_day=cases_per_day)
    if not args.reuse_lake:
        started = time.perf_counter()
        counts = write_lake_in_chunks(str(lake), sim, first, args.last)
        if args.families:
            counts |= write_families(str(lake), first, args.last)
        print(
            f"lake {lake}: {counts} ({first} – {args.last}, {cases_per_day}/day) in {time.perf_counter() - started:.0f} s"
        )
    seconds = {}
    for target in args.targets.split(","):
        settings = Settings(
            data_dir=workdir / target, lake_path=str(lake), jars_dir=PROJECT_ROOT / "var" / "jars"
        )
        marts.prepare(settings)
        seconds[target] = timed_build(settings, target, args.last)
        print(f"{target}: {seconds[target]:.1f} s")
        if target == "duckdb":
            with duckdb.connect(str(marts.build_file(settings)), read_only=True) as con:
                rows = con.execute("select count(*) from intermediate.int_case_days").fetchall()[0][0]
            print(f"  int_case_days: {rows} case-days")
    print(
        f"machine: {platform.machine()}, {platform.processor() or '?'}; scale {args.scale}, {args.days} days"
    )
    if {"duckdb", "spark"} <= seconds.keys():
        print(f"spark / duckdb time ratio: {seconds['spark'] / seconds['duckdb']:.1f}")


if __name__ == "__main__":
    main()
