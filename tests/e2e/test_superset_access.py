"""End to end: access by level in Superset, as dashboards/access.yaml and users.yaml say.

Logs in as a street and a community role and reads every chart of every imported
dashboard and every imported dataset: only the area's own rows come back (checked
against the DuckDB marts). A user without a civiclake role sees nothing, SQL Lab is
closed to street and community roles and open to the analyst, users come from
users.yaml, and the importer run twice keeps every id and removes what the YAML no
longer names.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dashboards import access
from dashboards.importer import load_assets, run_import
from dashboards.levels import dashboard_level
from dashboards.superset_client import SupersetClient, retrying_session

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CIVICLAKE_CLI = str(ROOT / ".venvs" / "core" / "bin" / "civiclake")

STREET = ("civiclake_street_440309002", "street_code", "440309002")
COMMUNITY = ("civiclake_community_440309002001", "community_code", "440309002001")


# --------------------------------------------------------------------------- helpers
def _rows(results: list[dict]) -> list[Counter]:
    """Each query's rows, order-free (Counter of sorted (column, value) tuples)."""
    return [Counter(tuple(sorted(rec.items())) for rec in r["data"]) for r in results]


def dashboard_charts(admin: SupersetClient, dashboard_ids) -> dict[int, dict]:
    """chart id -> chart (with its query_context) for every chart of every dashboard."""
    charts: dict[int, dict] = {}
    for dash_id in dashboard_ids:
        for c in admin.request("GET", f"/api/v1/dashboard/{dash_id}/charts")["result"]:
            charts[c["id"]] = admin.request("GET", f"/api/v1/chart/{c['id']}")["result"]
    return charts


def with_filter(query_context: dict, column: str, code: str) -> dict:
    """The same query context limited to one area by an ordinary filter."""
    qc = json.loads(json.dumps(query_context))
    qc["force"] = True
    for q in qc["queries"]:
        q["filters"] = [*(q.get("filters") or []), {"col": column, "op": "==", "val": code}]
    return qc


def rows_by_area(client: SupersetClient, dataset_id: int, column: str) -> list[dict]:
    """Row count per value of ``column``, through the chart-data API (RLS applies)."""
    body = {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": True,
        "queries": [
            {
                "columns": [column],
                "metrics": [{"expressionType": "SQL", "sqlExpression": "COUNT(*)", "label": "n_rows"}],
                "filters": [],
                "extras": {},
                "orderby": [],
                "row_limit": 10000,
                "time_range": "No filter",
            }
        ],
        "result_format": "json",
        "result_type": "full",
    }
    return client.request("POST", "/api/v1/chart/data", json=body)["result"][0]["data"]


def marts_count(marts_path: Path, table: str, column: str, code: str) -> int:
    con = duckdb.connect(str(marts_path), read_only=True)
    try:
        ((n,),) = con.execute(f"select count(*) from {table} where {column} = ?", [code]).fetchall()
    finally:
        con.close()
    return n


AREA_COLUMNS = ("street_code", "street_name", "community_code", "community_name", "area_code", "area_name")


def own_area_values(marts_path: Path, column: str, code: str) -> set:
    """Codes and names the area's own rows carry (its street, its communities), and None."""
    con = duckdb.connect(str(marts_path), read_only=True)
    try:
        rows = con.execute(
            "select distinct street_code, street_name, community_code, community_name "
            f"from mart_cases_by_community_daily where {column} = ?",
            [code],
        ).fetchall()
    finally:
        con.close()
    assert rows, f"the marts have no rows for {column} = {code}; the test would say nothing"
    return {v for row in rows for v in row} | {None}


def restricted_marts(marts_path: Path, tmp_dir: Path, column: str, code: str) -> Path:
    """A copy of the marts holding only the area's rows (tables without ``column`` emptied):
    what row-level security lets the area see, table by table."""
    copy = tmp_dir / f"marts-{code}.duckdb"
    shutil.copy2(marts_path, copy)
    con = duckdb.connect(str(copy))
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
        for (table,) in tables:
            cols = {c for (c,) in con.execute(f"select name from pragma_table_info('{table}')").fetchall()}
            keep = f"{column} is not distinct from '{code}'" if column in cols else "false"
            con.execute(f"delete from main.{table} where not ({keep})")
    finally:
        con.close()
    return copy


def imported_datasets(imported) -> list[access.Dataset]:
    return access.imported_datasets(load_assets(), imported.dataset_ids)


def sql_lab(client: SupersetClient, database_id: int, sql: str):
    """POST to SQL Lab's execute API; the raw response (status code and body)."""
    return client.session.post(
        f"{client.url}/api/v1/sqllab/execute/",
        json={
            "database_id": database_id,
            "sql": sql,
            "runAsync": False,
            "client_id": uuid.uuid4().hex[:10],
            "schema": "main",
        },
        timeout=client.timeout,
    )


# --------------------------------------------------------------------------- area roles
@pytest.mark.parametrize("role,column,code", [STREET, COMMUNITY], ids=["street", "community"])
def test_area_role_sees_only_its_area_on_every_chart(imported, admin, make_user, marts, role, column, code):
    """Every chart of every dashboard names only the area's own street/communities (as the
    marts have them), and a chart on a physical mart shows exactly what the admin sees with
    a filter on the area. (A virtual dataset's own SQL reads its tables through RLS too, so
    a join to another level's rows comes back empty there: no filter on top reproduces it.)"""
    user = make_user(role)
    allowed = own_area_values(marts["path"], column, code)
    virtual = {ds["id"] for ds in admin.get_all("/api/v1/dataset/", "columns:!(id,sql)") if ds.get("sql")}
    charts = dashboard_charts(admin, imported.dashboard_ids.values())
    checked, non_empty = [], 0
    for chart_id, chart in charts.items():
        if not chart.get("query_context"):
            continue  # legacy (deck.gl) charts: read through explore_json, see the dataset test
        name = f"chart {chart['slice_name']!r} (id {chart_id}) as {role}"
        got = user.request("GET", f"/api/v1/chart/{chart_id}/data/?force=true")["result"]
        assert not any(r.get("error") for r in got), got
        seen = {rec[c] for r in got for rec in r["data"] for c in AREA_COLUMNS if c in rec}
        assert seen <= allowed, f"{name} shows other areas: {sorted(map(str, seen - allowed))}"
        query_context = json.loads(chart["query_context"])
        if query_context["datasource"]["id"] not in virtual:
            want = admin.request("POST", "/api/v1/chart/data", json=with_filter(query_context, column, code))
            assert _rows(got) == _rows(want["result"]), name
        non_empty += any(r["data"] for r in got)
        checked.append(chart["slice_name"])
    assert checked, "no chart with a query context on the imported dashboards"
    assert non_empty, f"every chart is empty for {role}: the check says nothing"


@pytest.mark.parametrize("role,column,code", [STREET, COMMUNITY], ids=["street", "community"])
def test_area_role_reads_only_its_rows_of_every_dataset(
    imported, admin, make_user, marts, tmp_path, role, column, code
):
    """Every imported dataset, counted by the area column through the chart-data API: only
    the own area, with as many rows as DuckDB finds in the marts ``where <column> = <code>``
    (a virtual dataset's SQL run on a copy of the marts holding only the area's rows)."""
    user = make_user(role)
    restricted = restricted_marts(marts["path"], tmp_path, column, code)
    con = duckdb.connect(str(restricted), read_only=True)
    try:
        for ds in imported_datasets(imported):
            got = rows_by_area(user, ds.id, column)
            if column not in ds.columns:
                assert got == [], f"{ds.table_name} has no {column} and must stay closed to {role}"
                continue
            sql = admin.request("GET", f"/api/v1/dataset/{ds.id}")["result"].get("sql")
            source = f"({sql})" if sql else f"main.{ds.table_name}"
            ((want,),) = con.execute(
                f"select count(*) from {source} as v where {column} = ?", [code]
            ).fetchall()
            if not sql:
                assert want == marts_count(marts["path"], ds.table_name, column, code)
            expected = [{column: code, "n_rows": want}] if want else []
            assert got == expected, f"{ds.table_name} as {role}"
    finally:
        con.close()


@pytest.mark.parametrize("builtin_role", ["Gamma", "Alpha"])
def test_user_without_civiclake_role_sees_nothing(imported, admin, make_user, builtin_role):
    """Gamma has no dataset access (403); Alpha reads every dataset but the Base rule
    leaves it no rows (deny by default)."""
    user = make_user(builtin_role)
    for ds in imported_datasets(imported):
        r = user.session.post(
            f"{user.url}/api/v1/chart/data",
            json={
                "datasource": {"id": ds.id, "type": "table"},
                "force": True,
                "queries": [
                    {
                        "columns": ["street_code"] if "street_code" in ds.columns else [],
                        "metrics": [{"expressionType": "SQL", "sqlExpression": "COUNT(*)", "label": "n"}],
                        "row_limit": 10000,
                        "time_range": "No filter",
                    }
                ],
                "result_format": "json",
                "result_type": "full",
            },
            timeout=user.timeout,
        )
        assert r.status_code in (200, 403), r.text[:500]
        if r.status_code == 200:
            rows = r.json()["result"][0]["data"]
            assert all(not row.get("n") for row in rows), f"{ds.table_name} as {builtin_role}: {rows}"
    for chart_id, chart in dashboard_charts(admin, imported.dashboard_ids.values()).items():
        if not chart.get("query_context"):
            continue  # legacy (deck.gl) charts have no chart-data query; the datasets are checked above
        r = user.session.get(f"{user.url}/api/v1/chart/{chart_id}/data/?force=true", timeout=user.timeout)
        assert r.status_code in (200, 403, 404), r.text[:500]
        if r.status_code == 200:
            for result in r.json()["result"]:
                values = [v for rec in result["data"] for k, v in rec.items()]
                assert all(v in (None, 0) for v in values), f"chart {chart_id} as {builtin_role}"


# --------------------------------------------------------------------------- access changes
def _status_on_fresh_connections(client: SupersetClient, path: str, times: int = 8) -> set[int]:
    """Status codes of ``times`` GETs, each on a new connection, so that they land on every
    gunicorn worker (a kept-alive connection stays with one)."""
    codes = set()
    for _ in range(times):
        with retrying_session() as fresh:
            fresh.headers.update(client.session.headers)
            codes.add(fresh.get(f"{client.url}{path}", timeout=client.timeout).status_code)
    return codes


def test_permission_taken_from_a_role_is_refused_on_the_next_request(imported, admin, marts):
    """Workers remember permission checks until access changes (infra/superset/access_memo.py).
    A dataset permission taken from a role is refused on the very next request, in every
    worker, and works again as soon as it is given back: no worker keeps an old answer."""
    street_role = imported.role_ids[STREET[0]]
    granted = admin.request("GET", f"/api/v1/security/roles/{street_role}/permissions/")["result"]
    charts = dashboard_charts(admin, imported.dashboard_ids.values())
    chart_id, dataset_id = next(
        (cid, json.loads(c["query_context"])["datasource"]["id"])
        for cid, c in sorted(charts.items())
        if c.get("query_context")
    )
    dataset_perm = next(
        p["id"]
        for p in granted
        if p["permission_name"] == "datasource_access" and p["view_menu_name"].endswith(f"(id:{dataset_id})")
    )
    role_id = admin.request("POST", "/api/v1/security/roles/", json={"name": "e2e_access_change"})["id"]
    password = secrets.token_urlsafe(24)
    user_id = admin.request(
        "POST",
        "/api/v1/security/users/",
        json={
            "first_name": "e2e",
            "last_name": "access change",
            "username": "e2e_access_change",
            "email": "e2e_access_change@civiclake.test",
            "active": True,
            "password": password,
            "roles": [role_id],
        },
    )["id"]
    path = f"/api/v1/chart/{chart_id}/data/"

    def grant(permission_ids: set[int]) -> None:
        admin.request(
            "POST",
            f"/api/v1/security/roles/{role_id}/permissions",
            json={"permission_view_menu_ids": sorted(permission_ids)},
        )

    try:
        grant({p["id"] for p in granted})
        user = SupersetClient(admin.url, "e2e_access_change", password)
        assert _status_on_fresh_connections(user, path) == {200}
        grant({p["id"] for p in granted} - {dataset_perm})
        refused = _status_on_fresh_connections(user, path)
        assert 200 not in refused and refused <= {403, 404}, refused
        grant({p["id"] for p in granted})
        assert _status_on_fresh_connections(user, path) == {200}
    finally:
        admin.request("DELETE", f"/api/v1/security/users/{user_id}", ok=(200, 404, 422))
        admin.request("DELETE", f"/api/v1/security/roles/{role_id}", ok=(200, 404, 422))


# --------------------------------------------------------------------------- warm-up
# A street no other test of the session opens a chart as, so what its viewer finds in
# the cache was put there by the warm-up.
WARMED_STREET = ("civiclake_street_440309001", "street_code", "440309001")


def test_warm_up_fills_the_cache_with_each_areas_own_rows(imported, admin, make_user, marts):
    """``civiclake marts warm`` runs every chart of a role's dashboards once per civiclake
    role (here the streets' roles, ``--roles``; the daily DAG warms them all): a street
    viewer who never opened a chart then finds each one of its level's dashboards in the
    cache, holding exactly the rows a fresh query gives that viewer (only its own street's)."""
    run = subprocess.run(
        [CIVICLAKE_CLI, "marts", "warm", "--marts-file", str(marts["path"]), "--roles", "civiclake_street_"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, f"warm-up failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    summary = [line for line in run.stdout.splitlines() if line.startswith("[warm]") and " roles × " in line]
    assert summary and " failed 0 " in summary[-1], run.stdout[-3000:]
    assert summary[-1].startswith("[warm] 6 roles × "), summary[-1]  # the six streets, no other role
    role, column, code = WARMED_STREET
    user = make_user(role)
    allowed = own_area_values(marts["path"], column, code)
    # the street's own dashboards (dashboards/levels.py) and those serving every level
    slugs = {d["id"]: d["slug"] for d in admin.get_all("/api/v1/dashboard/", "columns:!(id,slug)")}
    street_dashboards = [
        i
        for i in imported.dashboard_ids.values()
        if dashboard_level(slugs[i], set(slugs.values())) in (None, "street")
    ]
    charts = dashboard_charts(admin, street_dashboards)
    warmed = 0
    for chart_id, chart in sorted(charts.items()):
        if not chart.get("query_context"):
            continue  # legacy (deck.gl) charts have no saved query to warm
        cached = user.request("GET", f"/api/v1/chart/{chart_id}/data/")["result"]
        name = f"chart {chart['slice_name']!r} (id {chart_id}) as {role}"
        assert all(r["is_cached"] for r in cached), f"{name} was not warmed"
        fresh = user.request("GET", f"/api/v1/chart/{chart_id}/data/?force=true")["result"]
        assert _rows(cached) == _rows(fresh), name
        seen = {rec[c] for r in cached for rec in r["data"] for c in AREA_COLUMNS if c in rec}
        assert seen <= allowed, f"{name} holds other areas: {sorted(map(str, seen - allowed))}"
        warmed += 1
    assert warmed, "no chart with a saved query on the imported dashboards"


# --------------------------------------------------------------------------- SQL Lab
@pytest.mark.parametrize("role", [STREET[0], COMMUNITY[0]], ids=["street", "community"])
def test_sql_lab_is_closed_to_area_roles(make_user, marts_database_id, role):
    user = make_user(role)
    r = sql_lab(user, marts_database_id, "select count(*) as n from mart_cases_by_community_daily")
    assert r.status_code in (401, 403), f"SQL Lab answered {role} with HTTP {r.status_code}: {r.text[:300]}"


def test_analyst_can_query_the_marts_read_only(make_user, marts, marts_database_id):
    user = make_user("civiclake_analyst")
    r = sql_lab(user, marts_database_id, "select count(*) as n from mart_cases_by_community_daily")
    assert r.status_code == 200, r.text[:500]
    con = duckdb.connect(str(marts["path"]), read_only=True)
    try:
        ((n,),) = con.execute("select count(*) from mart_cases_by_community_daily").fetchall()
    finally:
        con.close()
    assert r.json()["data"] == [{"n": n}]
    write = sql_lab(user, marts_database_id, "create table analyst_scratch as select 1 as x")
    assert write.status_code >= 400, "the marts database must refuse writes"


# --------------------------------------------------------------------------- users and rules
def test_users_of_users_yaml_log_in_with_their_role(imported, admin, superset):
    config = access.load_access()
    users = access.load_users(config)
    passwords = access.user_passwords(users)
    levels = {config.role(u.role).level for u in users}
    assert {"district", "street", "community"} <= levels, "a login per level"
    in_superset = {u["username"]: u for u in admin.get_all("/api/v1/security/users/")}
    for user in users:
        assert imported.user_ids[user.username] == in_superset[user.username]["id"]
        assert [r["name"] for r in in_superset[user.username]["roles"]] == [user.role]
        SupersetClient(superset, user.username, passwords[user.username])  # logs in or raises


def test_rules_deny_by_default_and_filter_each_area(imported, admin):
    config = access.load_access()
    rules = {
        r["name"]: r
        for r in admin.get_all("/api/v1/rowlevelsecurity/")
        if r["name"].startswith(access.RLS_PREFIX)
    }
    datasets = set(imported.dataset_ids)
    deny = rules.pop(access.DENY_RULE)
    assert deny["filter_type"] == "Base" and deny["clause"] == access.DENY_CLAUSE
    assert {t["table_name"] for t in deny["tables"]} == datasets
    spared = {r["name"] for r in deny["roles"]}
    assert spared == {r.name for r in config.roles} | set(config.see_all_builtin)
    filtered = [r for r in config.roles if r.rls]
    assert len(filtered) == 6 + 50
    assert set(rules) == {f"{access.RLS_PREFIX}{r.name}" for r in filtered}
    for role in filtered:
        rule = rules[f"{access.RLS_PREFIX}{role.name}"]
        assert rule["filter_type"] == "Regular" and rule["clause"] == role.clause
        assert [r["name"] for r in rule["roles"]] == [role.name]
        assert {t["table_name"] for t in rule["tables"]} == datasets


def test_import_twice_keeps_ids_and_removes_stale_civiclake_objects(imported, admin, marts):
    stale_role = admin.request("POST", "/api/v1/security/roles/", json={"name": "civiclake_stale_e2e"})["id"]
    stale_rule = admin.request(
        "POST",
        "/api/v1/rowlevelsecurity/",
        json={
            "name": f"{access.RLS_PREFIX}stale e2e",
            "filter_type": "Regular",
            "tables": [next(iter(imported.dataset_ids.values()))],
            "roles": [stale_role],
            "clause": "1 = 1",
        },
    )["id"]
    stale_user = admin.request(
        "POST",
        "/api/v1/security/users/",
        json={
            "first_name": "stale",
            "last_name": "e2e",
            "username": "civiclake_stale_e2e",
            "email": "stale-e2e@civiclake.test",
            "active": True,
            "password": uuid.uuid4().hex,
            "roles": [stale_role],
        },
    )["id"]
    again = run_import(url=imported.url, marts_file=marts["path"])
    assert again.role_ids == imported.role_ids
    assert again.rls_ids == imported.rls_ids
    assert again.user_ids == imported.user_ids
    assert again.dataset_ids == imported.dataset_ids
    assert again.chart_ids == imported.chart_ids
    assert again.dashboard_ids == imported.dashboard_ids
    roles = {r["id"] for r in admin.get_all("/api/v1/security/roles/")}
    rules = {r["id"] for r in admin.get_all("/api/v1/rowlevelsecurity/")}
    users = {u["id"] for u in admin.get_all("/api/v1/security/users/")}
    assert stale_role not in roles and stale_rule not in rules and stale_user not in users
