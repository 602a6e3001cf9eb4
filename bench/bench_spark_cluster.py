"""The same Spark jobs on local Spark and on a Spark standalone cluster, side by side.

One day's source data of every family of ``civiclake/families.toml`` is simulated once; then
one driver process with ``local[2]`` and one with ``spark://…`` (the project's cluster,
``infra/spark/cluster.sh``: a master and two workers of one core each, on this machine) each
run one day's ingest of every family and the case scoring into their own lake, one after the
other, in one Spark session each (``tests/integration/spark_cluster.py``). Printed: the
session's start and each job's wall time, local and on the cluster, and their ratio.

    source var/secrets.env && .venvs/core/bin/python -m bench.bench_spark_cluster
    (--cases-per-day 600 --scale 0.01 --history-days 30: the demo's day; the defaults are small)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from civiclake.settings import PROJECT_ROOT, Settings
from simulators.open311_server import create_app, serve_in_thread
from tests.integration import spark_cluster
from tests.integration.conftest import scratch_database

DAY = date(2026, 11, 25)
LOCAL = "local[2]"


def timed_run(
    master: str, sources: Settings, open311_url: str, work: Path, name: str
) -> tuple[dict[str, float], float]:
    """Every job of the day on ``master`` in a new driver process: seconds per job, and the
    whole process's wall time (JVM, session and executors' start included)."""
    data_dir = work / name
    spark_cluster.copy_sources(sources.data_dir, data_dir)
    progress = work / f"{name}.jsonl"
    plan = {
        "day": DAY.isoformat(),
        "open311_url": open311_url,
        "progress": str(progress),
        "phases": [{"name": name, "data_dir": str(data_dir), "jobs": spark_cluster.every_job()}],
    }
    env = spark_cluster.settings_env(sources, master)
    started = time.perf_counter()
    process = spark_cluster.start_plan(plan, work / f"{name}.json", env, work / f"{name}.log")
    if process.wait() != 0:
        raise SystemExit(f"the {name} run failed: see {work / f'{name}.log'}")
    wall = time.perf_counter() - started
    seconds = {}
    for event in spark_cluster.read_progress(progress):
        if event["event"] == "session":
            seconds["(session start)"] = event["seconds"]
        elif event["event"] == "job-end":
            seconds[event["job"]] = event["seconds"]
    return seconds, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-per-day", type=int, default=80)
    parser.add_argument("--history-days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.002, help="share of the district's registries")
    parser.add_argument("--open311-per-day", type=int, default=60)
    parser.add_argument("--workdir", type=Path, default=None, help="kept afterwards when given")
    args = parser.parse_args()
    if not os.environ.get("CIVICLAKE_PII_KEY"):
        raise SystemExit("CIVICLAKE_PII_KEY is not set: source var/secrets.env first")
    missing = spark_cluster.spark_scripts_missing()
    if missing:
        raise SystemExit(missing)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-spark-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    with scratch_database(f"civiclake_bench_cluster_{os.getpid()}") as database:
        sources = Settings(
            data_dir=work / "sources",
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=database,
            sim_cases_per_day=args.cases_per_day,
            sim_history_days=args.history_days,
            sim_scale=args.scale,
        )
        spark_cluster.simulate_sources(sources, DAY)
        dataset = spark_cluster.open311_dataset(sources, DAY, per_day=args.open311_per_day)
        with serve_in_thread(create_app(dataset)) as url:
            local, local_wall = timed_run(LOCAL, sources, url, work, "local")
            started = time.perf_counter()
            with spark_cluster.running_cluster(work / "spark-cluster") as cluster:
                cluster_start = time.perf_counter() - started
                remote, remote_wall = timed_run(cluster.master_url, sources, url, work, "cluster")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; day {DAY}, {args.cases_per_day} cases a day, "
        f"{args.history_days} days of history, registries at scale {args.scale}"
    )
    print(
        f"cluster: a master and {spark_cluster.WORKERS} workers of 1 core; started in {cluster_start:.1f} s"
    )
    print(f"{'job':<18}{LOCAL:>12}{'cluster':>12}{'cluster/local':>15}")
    for job in local:
        print(f"{job:<18}{local[job]:>11.1f}s{remote[job]:>11.1f}s{remote[job] / local[job]:>14.2f}x")
    jobs = [j for j in local if not j.startswith("(")]
    local_jobs, remote_jobs = sum(local[j] for j in jobs), sum(remote[j] for j in jobs)
    print(f"{'every job':<18}{local_jobs:>11.1f}s{remote_jobs:>11.1f}s{remote_jobs / local_jobs:>14.2f}x")
    print(
        f"{'driver process':<18}{local_wall:>11.1f}s{remote_wall:>11.1f}s{remote_wall / local_wall:>14.2f}x"
    )
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
