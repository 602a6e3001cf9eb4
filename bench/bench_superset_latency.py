"""Chart-data latency of the dashboards under concurrent viewers, next to the same SQL run
directly on DuckDB.

The dashboards are imported against the given marts file (a year of marts), then each
of ``--users`` viewers (one logged-in session each, in its own thread) asks for every
chart of every imported dashboard, ``--rounds`` times, through Superset's chart-data API
— as a command screen refreshing its charts does. Chart data is not cached (see
infra/superset/superset_config.py), so every request runs its query. The SQL Superset
generates for each chart (``?type=query``) is then run by as many threads straight on
the same file with DuckDB, which is the floor Superset's own work adds to.

Superset must be running (``bash infra/superset/start.sh``) with the admin password in
the environment (``source var/secrets.env``). At the end the dashboards are imported
again against the published marts file, so the screens point where they did.

    .venvs/core/bin/python -m bench.bench_superset_latency --marts-file var/bench/year/marts.duckdb
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from civiclake.settings import Settings
from dashboards.importer import SupersetClient, read_secret, run_import

GOAL_P95_SECONDS = 1.0


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def summary(values: list[float]) -> str:
    return (
        f"n={len(values)} p50={statistics.median(values) * 1000:.0f} ms "
        f"p95={percentile(values, 0.95) * 1000:.0f} ms max={max(values) * 1000:.0f} ms"
    )


def chart_sql(client: SupersetClient, chart_id: int) -> list[str]:
    """The SQL statements Superset runs for a chart (one per query of its query context)."""
    results = client.request("GET", f"/api/v1/chart/{chart_id}/data/?type=query")["result"]
    return [r["query"] for r in results]


def superset_latencies(url: str, password: str, chart_ids: list[int], users: int, rounds: int) -> list[float]:
    clients = [SupersetClient(url, "admin", password) for _ in range(users)]
    latencies: list[float] = []
    lock = threading.Lock()

    def viewer(client: SupersetClient) -> None:
        mine = []
        for _ in range(rounds):
            for chart_id in chart_ids:
                started = time.perf_counter()
                result = client.request("GET", f"/api/v1/chart/{chart_id}/data/")["result"]
                mine.append(time.perf_counter() - started)
                if any(r.get("error") for r in result):
                    raise RuntimeError(f"chart {chart_id} answered an error: {result}")
        with lock:
            latencies.extend(mine)

    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(viewer, clients))
    return latencies


def duckdb_latencies(marts_file: Path, statements: list[str], users: int, rounds: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    database = duckdb.connect(str(marts_file), read_only=True)

    def viewer(_: int) -> None:
        con = database.cursor()  # one connection per viewer, as Superset's pool holds
        mine = []
        for _ in range(rounds):
            for sql in statements:
                started = time.perf_counter()
                con.execute(sql).fetchall()
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(viewer, range(users)))
    database.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--marts-file", type=Path, required=True, help="the marts to serve (a year of them)")
    parser.add_argument("--url", default="http://127.0.0.1:8088")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    password = read_secret("SUPERSET_ADMIN_PASSWORD")

    with duckdb.connect(str(args.marts_file), read_only=True) as con:
        days, areas = con.execute(
            "select count(distinct report_date), count(distinct area_code) from mart_leader_brief_daily"
        ).fetchone()
    print(f"marts {args.marts_file}: {days} days × {areas} areas")

    imported = run_import(url=args.url, marts_file=args.marts_file)
    try:
        admin = SupersetClient(args.url, "admin", password)
        # deck.gl maps have no saved query context (their data comes from the legacy
        # endpoint), so the chart-data API cannot serve them; they are left out.
        chart_ids = sorted(
            chart_id
            for chart_id in imported.chart_ids.values()
            if admin.request("GET", f"/api/v1/chart/{chart_id}")["result"].get("query_context")
        )
        skipped = len(imported.chart_ids) - len(chart_ids)
        statements = [sql for chart_id in chart_ids for sql in chart_sql(admin, chart_id)]
        print(
            f"{len(chart_ids)} charts on {len(imported.dashboard_ids)} dashboards, {len(statements)} queries"
            f" ({skipped} map charts without a query context left out)"
        )

        # Both sides once before timing: Superset's workers and DuckDB's file cache warm.
        superset_latencies(args.url, password, chart_ids, 1, 1)
        duckdb_latencies(args.marts_file, statements, 1, 1)

        started = time.perf_counter()
        via_superset = superset_latencies(args.url, password, chart_ids, args.users, args.rounds)
        superset_wall = time.perf_counter() - started
        started = time.perf_counter()
        direct = duckdb_latencies(args.marts_file, statements, args.users, args.rounds)
        duckdb_wall = time.perf_counter() - started
    finally:
        published = Settings().published_marts_file
        if published.exists():
            run_import(url=args.url, marts_file=published)

    print(
        f"superset chart-data, {args.users} users × {args.rounds} rounds: {summary(via_superset)} ({superset_wall:.1f} s)"
    )
    print(
        f"duckdb direct,       {args.users} threads × {args.rounds} rounds: {summary(direct)} ({duckdb_wall:.1f} s)"
    )
    p95_superset, p95_duckdb = percentile(via_superset, 0.95), percentile(direct, 0.95)
    print(f"p95 ratio superset / duckdb: {p95_superset / p95_duckdb:.1f}")
    verdict = "met" if p95_superset < GOAL_P95_SECONDS else "NOT met"
    print(f"goal p95 < {GOAL_P95_SECONDS:.0f} s: {verdict}")
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}")


if __name__ == "__main__":
    main()
