"""How long `civiclake lake history` and `civiclake lake show` take on a lake: each command
run as a new process (interpreter start and imports included, as a person at the terminal
pays them), and the delta-rs call alone in this process; with ``--spark``, Spark's own
``DeltaTable.history()`` beside them (session start included, then warm).

    .venvs/core/bin/python -m bench.bench_time_travel --lake var/lake --table silver.governance_cases
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from civiclake.lake.history import TableRef, read_as_of, table_history
from civiclake.settings import Settings

CLI = Path(sys.executable).parent / "civiclake"


def _seconds(run, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def _line(label: str, times: list[float]) -> None:
    print(f"{label:<58} median {statistics.median(times):6.3f} s  ({', '.join(f'{t:.3f}' for t in times)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", required=True, help="the lake's root folder")
    parser.add_argument("--table", default="silver.governance_cases")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spark", action="store_true", help="also time Spark's DeltaTable.history()")
    args = parser.parse_args()
    env = os.environ | {"CIVICLAKE_LAKE_PATH": str(Path(args.lake).resolve())}
    settings = Settings(lake_path=env["CIVICLAKE_LAKE_PATH"])
    ref = TableRef.parse(args.table)
    commits = table_history(settings, ref)
    oldest = min(c.version for c in commits)
    print(f"{ref}: {len(commits)} versions kept, newest {commits[0].version}")

    def cli(*command: str):
        return lambda: subprocess.run([str(CLI), "lake", *command], env=env, check=True, capture_output=True)

    _line(
        "civiclake --help (process start and imports)",
        _seconds(
            lambda: subprocess.run([str(CLI), "--help"], env=env, check=True, capture_output=True),
            args.repeat,
        ),
    )
    _line(f"civiclake lake history {ref}", _seconds(cli("history", str(ref)), args.repeat))
    _line(
        f"civiclake lake show {ref} --version {oldest} --count",
        _seconds(cli("show", str(ref), "--version", str(oldest), "--count"), args.repeat),
    )
    _line(f"civiclake lake show {ref} --limit 20", _seconds(cli("show", str(ref)), args.repeat))
    _line("in process: table_history()", _seconds(lambda: table_history(settings, ref), args.repeat))
    _line(
        f"in process: read_as_of(version={oldest}, count=True)",
        _seconds(lambda: read_as_of(settings, ref, version=oldest, count=True), args.repeat),
    )
    if args.spark:
        from delta.tables import DeltaTable

        from civiclake.spark import spark_session

        start = time.perf_counter()
        spark = spark_session(Settings(lake_path=env["CIVICLAKE_LAKE_PATH"]), "bench-time-travel")
        DeltaTable.forPath(spark, settings.table_path(ref.layer, ref.name)).history().collect()
        _line("Spark: session start + DeltaTable.history() (cold)", [time.perf_counter() - start])
        _line(
            "Spark: DeltaTable.history() (warm session)",
            _seconds(
                lambda: (
                    DeltaTable.forPath(spark, settings.table_path(ref.layer, ref.name)).history().collect()
                ),
                args.repeat,
            ),
        )
        spark.stop()


if __name__ == "__main__":
    main()
