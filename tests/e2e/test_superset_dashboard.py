"""End to end: Superset started by the project's script, dashboards imported by the
project's importer, every chart's numbers checked against the DuckDB marts, and
row-level security checked by logging in as each level.

Marts: the file published by this session's run of the civiclake_daily DAG
(tests/e2e/conftest.py), so the dashboards are checked against real pipeline output.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import requests

from dashboards import access
from dashboards.importer import run_import
from dashboards.levels import LEVELS, level_slug
from dashboards.superset_client import SupersetClient
from dashboards.themes import load_themes

pytestmark = pytest.mark.e2e

DASHBOARD_UUID = "716a865b-c370-51f9-b848-e6f779bc2613"
DASHBOARD_TITLE = "龙华区案件总览"

# What each chart of the dashboard must show, as SQL on the marts file.
# {where} is the row-level-security predicate of the viewer ("true" for all rows).
# Columns in the order of the chart's colnames. A chart added to the dashboard
# without an entry here fails test_every_chart_matches_marts.
EXPECTED_SQL = {
    # big number with trend line: one row per day; the headline is the last row
    "eae18513-22ea-5d48-8b93-b1992bea7af2": """
        select report_date, sum(cases_reported)
          from mart_cases_by_community_daily where {where} group by 1""",
    # bar chart by street
    "4640256a-b0de-5160-84cd-b3d77916a9bf": """
        select area_name, sum(cases_reported), sum(cases_closed)
          from mart_cases_by_level_daily where level = 'street' and {where} group by 1""",
    # table by community
    "6c3df188-910f-51ad-a530-1c88bec2ae94": """
        select street_name, community_name, sum(cases_reported), sum(cases_closed),
               sum(cases_closed) * 1.0 / nullif(sum(cases_reported), 0),
               sum(cases_auto_dispatched), sum(cases_for_review)
          from mart_cases_by_community_daily where {where} group by 1, 2""",
    # pie by category
    "3c042212-d47e-59f1-b5fd-44b7514a7543": """
        select category, sum(cases_reported)
          from mart_cases_by_category_daily where {where} group by 1""",
    # cases received per day by channel (stacked bars): community rows summed
    "41832bf9-25c8-5c1e-a2fd-f02cc9d47a4f": """
        select report_date, channel_name, sum(cases_received)
          from mart_cases_by_channel_daily where level = 'community' and {where} group by 1, 2""",
    # the promises by area (every level the viewer's rows reach), rates recomputed from counts
    "fdd98783-2946-5852-8527-c303ad935eff": """
        select case level when 'district' then '区' when 'street' then '街道' when 'community' then '社区'
                    else level end,
               area_name, sum(orders_issued),
               sum(orders_answered) * 1.0 / nullif(sum(orders_issued), 0),
               sum(cases_answered_resolved) * 1.0 / nullif(sum(cases_answered), 0),
               sum(closures_with_feedback_text) * 1.0 / nullif(sum(closures), 0),
               sum(resolved_at_community) * 1.0 / nullif(sum(closures_with_orders), 0)
          from mart_command_promises_daily where {where} group by 1, 2""",
}
BIG_NUMBER_UUID = "eae18513-22ea-5d48-8b93-b1992bea7af2"


# --------------------------------------------------------------------------- helpers
def _norm(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 9)
    return value


def expected_rows(marts_path: Path, chart_uuid: str, where: str = "true") -> list[tuple]:
    con = duckdb.connect(str(marts_path), read_only=True)
    try:
        rows = con.execute(EXPECTED_SQL[chart_uuid].format(where=where)).fetchall()
    finally:
        con.close()
    return [tuple(_norm(v) for v in row) for row in rows]


def chart_rows(client: SupersetClient, chart_id: int) -> list[tuple]:
    """Rows of the chart-data API (the chart's saved query context), in colnames order."""
    result = client.request("GET", f"/api/v1/chart/{chart_id}/data/")["result"][0]
    assert not result.get("error"), result
    cols = result["colnames"]
    rows = []
    for rec in result["data"]:
        row = []
        for c in cols:
            v = rec[c]
            if c == "report_date" and isinstance(v, (int, float)):
                v = datetime.fromtimestamp(v / 1000, UTC).date()
            row.append(_norm(v))
        rows.append(tuple(row))
    return rows


def assert_chart_matches(client, marts_path, chart_uuid, chart_id, where="true"):
    got = chart_rows(client, chart_id)
    want = expected_rows(marts_path, chart_uuid, where)
    assert Counter(got) == Counter(want), (
        f"chart {chart_uuid} (id {chart_id}) differs from the marts for {where!r}:\n"
        f" only in Superset: {list((Counter(got) - Counter(want)).elements())[:5]}\n"
        f" only in marts:    {list((Counter(want) - Counter(got)).elements())[:5]}"
    )
    assert want, f"chart {chart_uuid}: the marts have no rows for {where!r}; test is vacuous"
    if chart_uuid == BIG_NUMBER_UUID:  # headline = latest day, rows ordered by date
        assert [r[0] for r in got] == sorted(r[0] for r in got)
        assert got[-1] == max(want)
    return got


def dashboard_chart_ids(client: SupersetClient, dashboard_id: int) -> dict[str, int]:
    """uuid -> id of the charts on the dashboard."""
    on_dashboard = {
        c["id"] for c in client.request("GET", f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
    }
    return {
        str(c["uuid"]): c["id"]
        for c in client.get_all("/api/v1/chart/", "columns:!(id,uuid)")
        if c["id"] in on_dashboard
    }


# --------------------------------------------------------------------------- tests
def test_login_page_answers_in_chinese(superset):
    r = requests.get(f"{superset}/login/", timeout=30)
    assert r.status_code == 200
    page = r.text.replace("&#34;", '"').replace("&quot;", '"')
    assert '"locale": "zh"' in page, "Superset's default locale should be zh"
    assert "/lang/en" in page, "English should be offered too"


def test_import_is_idempotent(imported, admin, marts):
    again = run_import(url=imported.url, marts_file=marts["path"])
    # one theme per file, however often it is imported, and every level's command screen on it
    dark = load_themes()["big_screen_dark"]["theme_name"]
    themes = [
        t for t in admin.get_all("/api/v1/theme/", "columns:!(id,theme_name)") if t["theme_name"] == dark
    ]
    assert len(themes) == 1, themes
    for level in LEVELS:
        screen = admin.request("GET", f"/api/v1/dashboard/{level_slug('longhua-command-screen', level)}")[
            "result"
        ]
        assert (screen["theme"] or {}).get("id") == themes[0]["id"], level
    assert again.dashboard_ids == imported.dashboard_ids
    assert again.chart_ids == imported.chart_ids
    assert again.dataset_ids == imported.dataset_ids
    assert again.role_ids == imported.role_ids
    assert again.rls_ids == imported.rls_ids
    assert again.user_ids == imported.user_ids
    rules = [r for r in admin.get_all("/api/v1/rowlevelsecurity/") if r["name"].startswith(access.RLS_PREFIX)]
    area_roles = [r for r in access.load_access().roles if r.rls]
    assert len(area_roles) == 6 + 50  # streets and communities of the reference geography
    # one deny-by-default Base rule + one Regular rule per street / community role
    assert sorted(r["filter_type"] for r in rules) == ["Base"] + ["Regular"] * len(area_roles)
    for rule in rules:
        assert {t["table_name"] for t in rule["tables"]} == set(imported.dataset_ids)


def test_dashboard_is_chinese_and_holds_all_charts(imported, admin):
    dash_id = imported.dashboard_ids[DASHBOARD_UUID]
    dash = admin.request("GET", f"/api/v1/dashboard/{dash_id}")["result"]
    assert dash["dashboard_title"] == DASHBOARD_TITLE
    assert dash["published"] is True
    assert set(dashboard_chart_ids(admin, dash_id)) == set(EXPECTED_SQL)


def test_every_chart_matches_marts(imported, admin, marts):
    dash_id = imported.dashboard_ids[DASHBOARD_UUID]
    charts = dashboard_chart_ids(admin, dash_id)
    missing = set(charts) - set(EXPECTED_SQL)
    assert not missing, f"dashboard charts without an expected-SQL check: {missing}"
    for chart_uuid, chart_id in charts.items():
        assert_chart_matches(admin, marts["path"], chart_uuid, chart_id)


@pytest.mark.parametrize(
    "role,street_code",
    [
        ("civiclake_street_440309002", "440309002"),
        ("civiclake_street_440309006", "440309006"),
    ],
)
def test_street_role_sees_only_its_street(imported, make_user, marts, role, street_code):
    user = make_user(role)
    where = f"street_code = '{street_code}'"
    for chart_uuid in EXPECTED_SQL:  # this dashboard's charts (the others have their own tests)
        chart_id = imported.chart_ids[chart_uuid]
        assert_chart_matches(user, marts["path"], chart_uuid, chart_id, where)
    # and, said plainly: only its own street's name appears
    con = duckdb.connect(str(marts["path"]), read_only=True)
    try:
        ((street_name,),) = con.execute(
            "select distinct street_name from mart_cases_by_community_daily where street_code = ?",
            [street_code],
        ).fetchall()
    finally:
        con.close()
    by_street = chart_rows(user, imported.chart_ids["4640256a-b0de-5160-84cd-b3d77916a9bf"])
    assert [r[0] for r in by_street] == [street_name]
    by_community = chart_rows(user, imported.chart_ids["6c3df188-910f-51ad-a530-1c88bec2ae94"])
    assert {r[0] for r in by_community} == {street_name}


def test_district_leader_sees_everything(imported, make_user, marts):
    user = make_user("civiclake_district_leader")
    for chart_uuid in EXPECTED_SQL:  # this dashboard's charts (the others have their own tests)
        chart_id = imported.chart_ids[chart_uuid]
        assert_chart_matches(user, marts["path"], chart_uuid, chart_id)
    by_street = chart_rows(user, imported.chart_ids["4640256a-b0de-5160-84cd-b3d77916a9bf"])
    assert len(by_street) == 6


def test_republished_marts_file_is_seen_at_once(imported, admin, marts, tmp_path):
    """The pipeline replaces the file atomically; Superset must not keep the old one."""
    chart_uuid = "4640256a-b0de-5160-84cd-b3d77916a9bf"
    chart_id = imported.chart_ids[chart_uuid]
    before = chart_rows(admin, chart_id)
    original, changed = tmp_path / "original.duckdb", tmp_path / "changed.duckdb"
    shutil.copy2(marts["path"], original)
    shutil.copy2(marts["path"], changed)
    with duckdb.connect(str(changed)) as con:
        con.execute(
            "update mart_cases_by_level_daily set cases_reported = cases_reported + 1000 where level = 'street'"
        )
    try:
        os.replace(changed, marts["path"])
        after = assert_chart_matches(admin, marts["path"], chart_uuid, chart_id)
        assert Counter(after) != Counter(before)
    finally:
        os.replace(original, marts["path"])
    assert Counter(chart_rows(admin, chart_id)) == Counter(before)
