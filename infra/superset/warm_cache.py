"""Fill Superset's chart-data cache for every civiclake role after marts are published.

Publishing the marts changes every chart-data cache key (superset_config.py keys them
by the marts file), so the first viewer of each area and chart would otherwise wait for
the query while the command screens refresh all at once. This runs each dashboard
chart's saved query once per civiclake role, as that role: Superset's own cache key
then carries the role's row-level-security rules, exactly as when a viewer of the role
opens the chart (GET /api/v1/chart/<id>/data/ and the dashboards' saved queries), so
each area's rows land under its own key and never under another's.

No user is created or logged in: the queries run in-process with a stand-in viewer that
holds one role and nothing else. Run with the Superset environment, after a publish:

    bash infra/superset/warm.sh --marts-file var/marts/civiclake.duckdb
    civiclake marts warm                   # the same, for the configured marts (the DAG's task)

Only charts on a database that reads ``--marts-file`` are warmed. The roles are shared
out among ``--jobs`` processes (one per core by default, at most two: the queries are
short and each process starts Superset once), each warming every ``jobs``-th role.
Prints one line per role and a summary (roles, charts, queries run, already cached,
refused, failed, seconds). Exit code 1 if any chart failed for any role, SKIPPED (99) if
Superset serves no database from that file (nothing imported yet, or the screens show
other marts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from screen_links import load_levels  # beside this script

ROLE_PREFIX = "civiclake_"
SKIPPED = 99
# The line by which a process of a shared warm-up hands its counts to the one that started it.
TOTALS_LINE = "[warm-totals] "
COUNTS = ("ran", "cached", "refused", "failed")


@dataclass
class Viewer:
    """Stands in for a logged-in user holding exactly one role, for Superset's access
    checks and row-level security (which read ``roles``, ``groups`` and ``username``).
    Not a database object, so nothing about it is ever stored."""

    role: object
    id: None = None
    groups: list = field(default_factory=list)
    is_anonymous: bool = False
    is_authenticated: bool = True
    is_active: bool = True
    active: bool = True

    @property
    def roles(self) -> list:
        return [self.role]

    @property
    def username(self) -> str:
        # Superset remembers row-level-security rules per username within a context.
        return f"civiclake_cache_warmer:{self.role.name}"


def _file_read_by(database) -> Path | None:
    """The file a DuckDB database of Superset's reads, resolved; None for other databases."""
    url = database.url_object
    if not url.drivername.startswith("duckdb") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def _summary(roles: int, charts: int, totals: dict[str, int], seconds: float) -> str:
    counts = ", ".join(f"{k} {totals[k]}" for k in COUNTS)
    return f"[warm] {roles} roles × {charts} charts: {counts} in {seconds:.1f} s"


def _share_out(marts_file: Path, prefix: str, jobs: int) -> int:
    """Runs ``jobs`` processes of this script, each on its share of the roles, and sums them."""
    started = time.perf_counter()
    args = [sys.executable, __file__, "--marts-file", str(marts_file), "--prefix", prefix, "--jobs", "1"]
    children = [
        subprocess.Popen([*args, "--shard", f"{k}/{jobs}"], stdout=subprocess.PIPE, text=True)
        for k in range(jobs)
    ]
    codes, totals, roles, charts = [], dict.fromkeys(COUNTS, 0), 0, 0
    for child in children:
        out, _ = child.communicate()
        for line in out.splitlines():
            if line.startswith(TOTALS_LINE):
                share = json.loads(line.removeprefix(TOTALS_LINE))
                roles += share["roles"]
                charts = max(charts, share["charts"])
                for key in COUNTS:
                    totals[key] += share[key]
            else:
                print(line, flush=True)
        codes.append(child.returncode)
    if all(code == SKIPPED for code in codes):
        return SKIPPED
    print(_summary(roles, charts, totals, time.perf_counter() - started), flush=True)
    return 1 if totals["failed"] or any(code not in (0, SKIPPED) for code in codes) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--marts-file", type=Path, required=True, help="the published DuckDB marts")
    parser.add_argument("--prefix", default=ROLE_PREFIX, help="warm the roles whose names start so")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes sharing the roles"
    )
    parser.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)  # K/N: every N-th role from K
    args = parser.parse_args(argv)
    shard, shards = (int(n) for n in args.shard.split("/"))
    marts_file = args.marts_file.resolve()
    if args.jobs > 1 and shards == 1:
        return _share_out(marts_file, args.prefix, args.jobs)

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset.charts.schemas import ChartDataQueryContextSchema
        from superset.commands.chart.data.get_data_command import ChartDataCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.exceptions import SupersetSecurityException
        from superset.extensions import db, security_manager
        from superset.models.core import Database
        from superset.models.dashboard import Dashboard
        from superset.utils.core import override_user

        serving = {d.id for d in db.session.query(Database) if _file_read_by(d) == marts_file}
        if not serving:
            print(f"[warm] Superset serves no database from {marts_file}: nothing to warm")
            return SKIPPED
        datasets = {t.id for t in db.session.query(SqlaTable) if t.database_id in serving}

        # Plain values: each role's queries run in an application context of their own,
        # whose end detaches whatever was loaded in it.
        role_names = sorted(
            r.name for r in security_manager.get_all_roles() if r.name.startswith(args.prefix)
        )[shard::shards]
        levels = load_levels()
        # Each role warms the dashboards of its level (dashboards/levels.py) and those
        # that serve every level.
        dashboards = list(db.session.query(Dashboard))
        slugs = {d.slug for d in dashboards}
        charts_by_level = {
            level: sorted(
                {
                    (chart.id, chart.slice_name, chart.query_context)
                    for dash in dashboards
                    if levels.dashboard_level(dash.slug, slugs) in (None, level)
                    for chart in dash.slices
                    if chart.query_context
                    and chart.datasource_type == "table"
                    and chart.datasource_id in datasets
                }
            )
            for level in levels.LEVELS
        }
        charts = sorted(set().union(*charts_by_level.values()))
        started = time.perf_counter()
        totals = dict.fromkeys(COUNTS, 0)
        for role_name in role_names:
            counts = dict.fromkeys(totals, 0)
            # A fresh application context per role: nothing Superset keeps in flask.g
            # for one viewer carries over to the next.
            with app.app_context(), app.test_request_context():
                viewer = Viewer(security_manager.find_role(role_name))
                for chart_id, chart_name, query_context in charts_by_level[levels.viewer_level({role_name})]:
                    # What GET /api/v1/chart/<id>/data/ runs: the saved query as JSON rows.
                    body = json.loads(query_context)
                    body.update(result_format="json", result_type="full", force=None)
                    try:
                        with override_user(viewer):
                            command = ChartDataCommand(ChartDataQueryContextSchema().load(body))
                            command.validate()
                            result = command.run()
                    except SupersetSecurityException:
                        counts["refused"] += 1  # the role may not see this chart
                        continue
                    except Exception as exc:  # noqa: BLE001 - report every chart, go on
                        counts["failed"] += 1
                        print(f"[warm] {role_name}: chart {chart_id} {chart_name!r} failed: {exc}")
                        continue
                    queries = result["queries"]
                    if any(q.get("error") for q in queries):
                        counts["failed"] += 1
                        print(f"[warm] {role_name}: chart {chart_id} error: {queries[0].get('error')}")
                    elif all(q.get("is_cached") for q in queries):
                        counts["cached"] += 1
                    else:
                        counts["ran"] += 1
            print(f"[warm] {role_name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
            for key, value in counts.items():
                totals[key] += value
        seconds = time.perf_counter() - started
        if shards > 1:
            print(TOTALS_LINE + json.dumps({"roles": len(role_names), "charts": len(charts), **totals}))
        else:
            print(_summary(len(role_names), len(charts), totals, seconds))
        return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
