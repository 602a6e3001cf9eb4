"""Chart-data latency of the dashboards under concurrent viewers, next to the same SQL run
directly on DuckDB.

The dashboards are imported against the given marts file (a year of marts), with
``--users`` viewers of their own: the district leader, the 6 streets and then
communities, one user per area, so that row-level security differs between viewers as
it does on the 1+6+N screens. Each viewer (one logged-in session, in its own thread) asks
for every chart of every imported dashboard, ``--rounds`` times, through Superset's
chart-data API, as a command screen refreshing its charts does. Three runs side by side:

- uncached: every request with ``force=true``, so each one runs its query;
- after publish: the marts file is touched first, as publishing replaces it, so the
  chart-data cache (keyed by the file, see infra/superset/superset_config.py) starts
  empty and each area's first viewer of a chart runs its query;
- after publish and warm-up: touched again, then ``civiclake marts warm`` (what the daily
  DAG runs after publishing) fills the cache for every role before the viewers come; its
  own time is printed too;
- DuckDB direct: the SQL Superset generates for each chart (``?type=query``, as the
  admin sees it) run by as many threads straight on the same file, the floor Superset's
  own work adds to.

Superset must be running (``bash infra/superset/start.sh``) with the admin password in
the environment (``source var/secrets.env``). At the end the dashboards are imported
again against the published marts file with the users of dashboards/users.yaml, so the
screens point where they did and the bench's viewers are gone. Superset, which runs as
its own user, serves (and DuckDB direct reads) a copy of the marts file in a temporary
folder that user may enter.

    .venvs/core/bin/python -m bench.bench_superset_latency --marts-file var/bench/year/marts.duckdb
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import yaml

from civiclake.settings import Settings
from dashboards.access import User, load_access
from dashboards.importer import read_secret, run_import
from dashboards.superset_client import SupersetClient

GOAL_P95_SECONDS = 1.0
# The user Superset's processes run as (infra/superset/service.sh).
SUPERSET_SERVICE_USER = os.environ.get("CIVICLAKE_SUPERSET_USER", "civiclake-superset")


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


def bench_viewers(count: int) -> list[User]:
    """One user per area, top down: the district leader, the streets, then communities
    spread over the streets."""
    access = load_access()
    leader = [r for r in access.roles if r.level == "district"]
    streets = [r for r in access.roles if r.level == "street"]
    communities = [r for r in access.roles if r.level == "community"]
    spread = communities[::2] + communities[1::2]
    roles = (leader + streets + spread)[:count]
    return [
        User(
            username=f"civiclake_bench_{n:02d}",
            role=role.name,
            email=f"bench{n:02d}@bench.civiclake.example",
            display_name=f"bench {role.description}",
        )
        for n, role in enumerate(roles, start=1)
    ]


def write_users_file(users: list[User], directory: Path) -> Path:
    """A users.yaml naming the bench viewers; their passwords go to the environment,
    where the importer looks first."""
    for user in users:
        os.environ[user.password_variable] = secrets.token_urlsafe(18)
    path = directory / "bench_users.yaml"
    body = [{"username": u.username, "role": u.role, "email": u.email, "name": u.display_name} for u in users]
    path.write_text(yaml.safe_dump({"users": body}, allow_unicode=True), encoding="utf-8")
    return path


def superset_latencies(
    url: str, viewers: list[User], chart_ids: list[int], rounds: int, *, force: bool
) -> tuple[list[float], list[float]]:
    """Latencies of the first round and of the later rounds, over all viewers."""
    clients = [SupersetClient(url, v.username, os.environ[v.password_variable]) for v in viewers]
    first: list[float] = []
    later: list[float] = []
    lock = threading.Lock()
    query = "?force=true" if force else ""

    def viewer(client: SupersetClient) -> None:
        mine: list[list[float]] = []
        for _ in range(rounds):
            this_round = []
            for chart_id in chart_ids:
                started = time.perf_counter()
                result = client.request("GET", f"/api/v1/chart/{chart_id}/data/{query}")["result"]
                this_round.append(time.perf_counter() - started)
                if any(r.get("error") for r in result):
                    raise RuntimeError(f"chart {chart_id} answered an error: {result}")
            mine.append(this_round)
        with lock:
            first.extend(mine[0])
            for this_round in mine[1:]:
                later.extend(this_round)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(viewer, clients))
    return first, later


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


def warm_up(marts_file: Path) -> None:
    """``civiclake marts warm`` for the bench's marts, as the daily DAG runs it."""
    cli = Path(sys.executable).parent / "civiclake"
    date = time.strftime("%Y-%m-%d")
    run = subprocess.run(
        [str(cli), "marts", "warm", "--date", date, "--marts-file", str(marts_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"civiclake marts warm failed ({run.returncode}):\n{run.stdout[-2000:]}")
    print(next(line for line in reversed(run.stdout.splitlines()) if line.startswith("[warm]")))


def served_copy(marts_file: Path, folder: Path) -> Path:
    """A copy of the marts in ``folder``, readable by Superset's own user, which may not
    enter var/ outside var/marts (var/bench included)."""
    try:
        shutil.chown(folder, group=SUPERSET_SERVICE_USER)
        folder.chmod(0o750)
    except (LookupError, PermissionError):
        pass  # no such user, or not root: Superset runs as this bench's own user
    copy = folder / marts_file.name
    shutil.copy2(marts_file, copy)
    copy.chmod(0o644)
    return copy


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
    served = tempfile.TemporaryDirectory(prefix="civiclake-bench-marts-")
    given, args.marts_file = args.marts_file, served_copy(args.marts_file, Path(served.name))

    with duckdb.connect(str(args.marts_file), read_only=True) as con:
        days, areas = con.execute(
            "select count(distinct report_date), count(distinct area_code) from mart_leader_brief_daily"
        ).fetchone()
    print(f"marts {args.marts_file}: {days} days × {areas} areas")

    viewers = bench_viewers(args.users)
    with tempfile.TemporaryDirectory() as tmp:
        users_file = write_users_file(viewers, Path(tmp))
        imported = run_import(url=args.url, marts_file=args.marts_file, users_file=users_file)
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
        level_of = {role.name: role.level for role in load_access().roles}
        levels = Counter(level_of[v.role] for v in viewers)
        print(
            f"{len(chart_ids)} charts on {len(imported.dashboard_ids)} dashboards, {len(statements)} queries"
            f" ({skipped} map charts without a query context left out); {len(viewers)} viewers: "
            + ", ".join(f"{n} {level}" for level, n in levels.items())
        )

        # Both sides once before timing: Superset's workers and DuckDB's file cache warm.
        superset_latencies(args.url, viewers[:1], chart_ids, 1, force=True)
        duckdb_latencies(args.marts_file, statements, 1, 1)

        started = time.perf_counter()
        uncached_first, uncached_later = superset_latencies(
            args.url, viewers, chart_ids, args.rounds, force=True
        )
        uncached = uncached_first + uncached_later
        uncached_wall = time.perf_counter() - started

        os.utime(args.marts_file)  # as publishing does: every cached chart is stale
        started = time.perf_counter()
        first, later = superset_latencies(args.url, viewers, chart_ids, args.rounds, force=False)
        cached = first + later
        cached_wall = time.perf_counter() - started

        os.utime(args.marts_file)
        started = time.perf_counter()
        warm_up(args.marts_file)
        warm_wall = time.perf_counter() - started
        started = time.perf_counter()
        warm_first, warm_later = superset_latencies(args.url, viewers, chart_ids, args.rounds, force=False)
        warmed = warm_first + warm_later
        warmed_wall = time.perf_counter() - started

        started = time.perf_counter()
        direct = duckdb_latencies(args.marts_file, statements, args.users, args.rounds)
        duckdb_wall = time.perf_counter() - started
    finally:
        published = Settings().published_marts_file
        run_import(url=args.url, marts_file=published if published.exists() else given)
        served.cleanup()

    who = f"{args.users} users × {args.rounds} rounds"
    print(f"superset uncached (force),  {who}: {summary(uncached)} ({uncached_wall:.1f} s)")
    print(f"superset after publish,     {who}: {summary(cached)} ({cached_wall:.1f} s)")
    print(f"  first round (cache empty):  {summary(first)}")
    print(f"  later rounds:               {summary(later)}")
    print(f"warm-up after publish (civiclake marts warm, every role): {warm_wall:.1f} s")
    print(f"superset after warm-up,     {who}: {summary(warmed)} ({warmed_wall:.1f} s)")
    print(
        f"duckdb direct,              {args.users} threads × {args.rounds} rounds: {summary(direct)} ({duckdb_wall:.1f} s)"
    )
    p95_uncached, p95_cached = percentile(uncached, 0.95), percentile(cached, 0.95)
    p95_warmed, p95_duckdb = percentile(warmed, 0.95), percentile(direct, 0.95)
    print(f"p95 ratio uncached / after warm-up: {p95_uncached / p95_warmed:.1f}")
    print(f"p95 ratio after publish (no warm-up) / after warm-up: {p95_cached / p95_warmed:.1f}")
    print(f"p95 ratio after warm-up / duckdb: {p95_warmed / p95_duckdb:.1f}")
    for label, p95 in (("after publish, no warm-up", p95_cached), ("after publish and warm-up", p95_warmed)):
        verdict = "met" if p95 < GOAL_P95_SECONDS else "NOT met"
        print(f"goal p95 < {GOAL_P95_SECONDS:.0f} s, {label} (every request): {verdict}")
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}")


if __name__ == "__main__":
    main()
