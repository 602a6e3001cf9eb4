"""End to end: row-level security attacked as a street and a community viewer would.

With nothing but their login, area viewers send every query shape Superset accepts from
them (custom SQL in filter columns, columns, metrics, orderby, ``extras.where/having``,
comments, OR, sub-queries, UNION, DuckDB table and file functions) to every imported
dataset, through every route that returns rows: the chart-data API in each result type
and format, saved charts, drill to detail (samples) and the legacy ``explore_json``.
An answer passes when it holds no row of another area (every area code or name in it is
the viewer's own) and no count larger than the viewer's own rows; a refusal (4xx)
passes too. The counts come from DuckDB on a copy of the marts holding only the area.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl
import pytest

from dashboards.superset_client import SupersetClient
from tests.e2e.test_superset_access import (
    AREA_COLUMNS,
    COMMUNITY,
    STREET,
    dashboard_charts,
    imported_datasets,
    own_area_values,
    restricted_marts,
    sql_lab,
)
from tests.e2e.test_superset_screens import web_session

pytestmark = pytest.mark.e2e

OTHER_TABLE = "mart_cases_by_community_daily"  # has both area columns at every level


@dataclass(frozen=True)
class Shape:
    """One way a viewer may write a query: ``build(area_column, table)`` returns the parts
    of a chart-data query that carry the attack."""

    name: str
    build: Callable[[str, str], dict]


def _sql(expression: str, label: str = "x") -> dict:
    return {"expressionType": "SQL", "sqlExpression": expression, "label": label}


def _or_filter(expression: str) -> dict:
    return {"filters": [{"col": _sql(expression), "op": "IS NOT NULL"}]}


SHAPES = (
    Shape("filter column OR", lambda col, t: _or_filter(f"1=1 OR {col}")),
    Shape("filter column OR, block comment", lambda col, t: _or_filter(f"1=1 /* x */ OR {col}")),
    Shape("filter column OR, line comment", lambda col, t: _or_filter(f"1=1 --\nOR {col}")),
    Shape("filter column closing parenthesis", lambda col, t: _or_filter(f"{col}) OR (1=1")),
    Shape("extras.where OR", lambda col, t: {"extras": {"where": "1=1 OR 1=1"}}),
    Shape("extras.where closing parenthesis", lambda col, t: {"extras": {"where": "1=1) OR (1=1"}}),
    Shape("extras.having OR", lambda col, t: {"extras": {"having": "1=1 OR COUNT(*) >= 0"}}),
    Shape(
        "column as custom SQL with OR filter",
        lambda col, t: {"columns": [_sql(col, col)], **_or_filter(f"1=1 OR {col}")},
    ),
    Shape(
        "metric FILTER with OR",
        lambda col, t: {"metrics": [_sql(f"COUNT(*) FILTER (WHERE 1=1 OR {col} IS NOT NULL)", "n_rows")]},
    ),
    Shape(
        "orderby custom SQL with OR filter",
        lambda col, t: {"orderby": [[_sql(f"1=1 OR {col}", "o"), True]], **_or_filter(f"1=1 OR {col}")},
    ),
    Shape(
        "sub-query in where",
        lambda col, t: {"extras": {"where": f"{col} IN (SELECT {col} FROM main.{t}) OR 1=1"}},
    ),
    Shape(
        "sub-query counting another table",
        lambda col, t: {"metrics": [_sql(f"MAX((SELECT COUNT(*) FROM main.{OTHER_TABLE}))", "other_rows")]},
    ),
    Shape(
        "UNION through where",
        lambda col, t: {
            "extras": {"where": f"1=0 UNION ALL SELECT {col}, COUNT(*) FROM main.{t} GROUP BY 1"}
        },
    ),
    Shape(
        "file read as a column",
        lambda col, t: {"columns": [_sql("(SELECT content FROM read_text('/proc/self/environ'))", col)]},
    ),
    Shape(
        "parquet files of the lake in where",
        lambda col, t: {"extras": {"where": "EXISTS (SELECT 1 FROM read_parquet('**/*.parquet')) OR 1=1"}},
    ),
    Shape(
        "query_table of a staging relation",
        lambda col, t: {
            "extras": {"where": "EXISTS (SELECT 1 FROM query_table('staging.stg_party__members'))"}
        },
    ),
)


def chart_data_body(dataset_id: int, column: str, attack: dict, *, result_type="full", result_format="json"):
    query = {
        "columns": [column],
        "metrics": [_sql("COUNT(*)", "n_rows")],
        "filters": [],
        "extras": {},
        "orderby": [],
        "row_limit": 10000,
        "time_range": "No filter",
    }
    for key, value in attack.items():
        query[key] = [*query[key], *value] if key == "filters" else value
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": True,
        "queries": [query],
        "result_format": result_format,
        "result_type": result_type,
    }


def country_map_form_data(dataset_id: int, column: str, adhoc_filters=(), time_range="No filter") -> dict:
    """A legacy country map (a viz that /superset/explore_json/ still serves) counting the
    rows by one column."""
    return {
        "datasource": f"{dataset_id}__table",
        "viz_type": "country_map",
        "select_country": "china",
        "entity": column,
        "metric": _sql("COUNT(*)", "n_rows"),
        "adhoc_filters": list(adhoc_filters),
        "row_limit": 10000,
        "time_range": time_range,
    }


class Area:
    """What one area viewer may see: its own codes and names, and its row count of each
    dataset (a virtual one's SQL run on the area's copy of the marts)."""

    def __init__(self, marts_path, tmp_dir, column: str, code: str, dataset_sql: dict[str, str | None]):
        self.column, self.code = column, code
        self.allowed = {str(v) for v in own_area_values(marts_path, column, code) if v is not None}
        path = restricted_marts(marts_path, tmp_dir, column, code)
        con = duckdb.connect(str(path), read_only=True)
        try:
            self.rows = {
                table: con.execute(
                    f"select count(*) from ({sql or f'select * from main.{table}'})"
                ).fetchall()[0][0]
                for table, sql in dataset_sql.items()
            }
        finally:
            con.close()

    def leaks(self, records: list[dict], table: str | None) -> list[str]:
        """What in ``records`` lies outside the area: foreign area values, or counts above
        the area's own rows of the dataset (``n_rows``) or of OTHER_TABLE (``other_rows``)."""
        found = [
            f"{c}={rec[c]!r}"
            for rec in records
            for c in AREA_COLUMNS
            if rec.get(c) not in (None, "") and str(rec[c]) not in self.allowed
        ]
        counts = {
            "n_rows": (sum, self.rows.get(table, 0) if table else None),
            "other_rows": (max, self.rows[OTHER_TABLE]),
        }
        for label, (combine, limit) in counts.items():
            values = [int(float(rec[label])) for rec in records if rec.get(label) not in (None, "")]
            if values and limit is not None and combine(values) > limit:
                found.append(f"{label} {combine(values)} > the area's {limit}")
        return found


def _records(response, result_format: str) -> list[dict]:
    if result_format == "csv":
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    if result_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
        header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        return [dict(zip(header, r, strict=False)) for r in rows]
    return [rec for result in response.json()["result"] for rec in result.get("data") or []]


def _verdict(response, area: Area, table: str | None, result_format: str = "json") -> str | None:
    """None when nothing leaked (or the request was refused with a 4xx), else why."""
    if 400 <= response.status_code < 500:
        return None
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    leaks = area.leaks(_records(response, result_format), table)
    return "; ".join(leaks[:5]) or None


@pytest.fixture(scope="module")
def dataset_sql(imported, admin) -> dict[str, str | None]:
    """table name -> the SQL of each imported dataset (None for a physical one)."""
    return {
        ds.table_name: admin.request("GET", f"/api/v1/dataset/{ds.id}")["result"].get("sql")
        for ds in imported_datasets(imported)
    }


@pytest.fixture(scope="module", params=[STREET, COMMUNITY], ids=["street", "community"])
def viewer(request, make_user, marts, dataset_sql, tmp_path_factory):
    role, column, code = request.param
    area = Area(marts["path"], tmp_path_factory.mktemp(f"attack-{code}"), column, code, dataset_sql)
    assert any(area.rows.values()), f"{role} has no rows in any dataset: the attacks would say nothing"
    return make_user(role), area


def browser(user: SupersetClient):
    """The viewer's browser session (form login, cookie, CSRF token): Superset's views
    outside /api/v1 take no API token."""
    session = web_session(user.url, *user.credentials)
    session.headers["X-CSRFToken"] = session.get(f"{user.url}/api/v1/security/csrf_token/").json()["result"]
    session.headers["Referer"] = user.url
    return session


def assert_route_answers(answer) -> None:
    """The route under attack serves the viewer at all: an innocent request is answered,
    so a refusal of the attacks is a refusal, not a broken request."""
    assert answer.status_code == 200, f"HTTP {answer.status_code}: {answer.text[:300]}"


def _run_all(requests_to_send: list[tuple[str, Callable]]) -> dict[str, str]:
    """Sends the requests four at a time (gunicorn serves 2 workers x 4 threads); the
    failures by name."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = dict(
            zip([n for n, _ in requests_to_send], pool.map(lambda r: r[1](), requests_to_send), strict=True)
        )
    return {name: why for name, why in verdicts.items() if why}


def test_every_query_shape_on_every_dataset_stays_in_the_area(imported, viewer):
    user, area = viewer
    sends = []
    for ds in imported_datasets(imported):
        column = area.column if area.column in ds.columns else next(iter(sorted(ds.columns)))
        for shape in SHAPES:

            def send(ds=ds, column=column, shape=shape):
                body = chart_data_body(ds.id, column, shape.build(column, ds.table_name))
                r = user.session.post(f"{user.url}/api/v1/chart/data", json=body, timeout=user.timeout)
                return _verdict(r, area, ds.table_name)

            sends.append((f"{ds.table_name} / {shape.name}", send))
    failures = _run_all(sends)
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


@pytest.mark.parametrize(
    "result_type,result_format",
    [("full", "csv"), ("full", "xlsx"), ("samples", "json"), ("drill_detail", "json"), ("results", "json")],
)
def test_every_result_type_and_format_stays_in_the_area(imported, viewer, result_type, result_format):
    user, area = viewer
    attack = SHAPES[0]
    sends = []
    for ds in imported_datasets(imported):
        column = area.column if area.column in ds.columns else next(iter(sorted(ds.columns)))

        def send(ds=ds, column=column):
            body = chart_data_body(
                ds.id,
                column,
                attack.build(column, ds.table_name),
                result_type=result_type,
                result_format=result_format,
            )
            r = user.session.post(f"{user.url}/api/v1/chart/data", json=body, timeout=user.timeout)
            return _verdict(r, area, ds.table_name, result_format)

        sends.append((ds.table_name, send))
    failures = _run_all(sends)
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


def test_drill_to_detail_samples_stay_in_the_area(imported, viewer):
    """/datasource/samples, what drill to detail and the dataset's samples pane call."""
    user, area = viewer
    web = browser(user)

    def samples(ds_id: int, payload: dict):
        return web.post(
            f"{user.url}/datasource/samples",
            params={"datasource_type": "table", "datasource_id": ds_id, "force": "true", "per_page": 5000},
            json=payload,
            timeout=user.timeout,
        )

    # Area roles hold no samples permission (drill to detail reaches them through the
    # chart-data API's drill_detail result type, attacked above); should that change, the
    # samples they get are checked like every other answer.
    innocent = samples(imported.dataset_ids["mart_cases_by_community_daily"], {})
    assert innocent.status_code in (200, 403), f"HTTP {innocent.status_code}: {innocent.text[:300]}"
    if innocent.status_code == 200:
        assert innocent.json()["result"]["data"], "the area's own samples are empty: the test says nothing"
    sends = []
    for ds in imported_datasets(imported):
        column = area.column if area.column in ds.columns else next(iter(sorted(ds.columns)))
        for shape in (SHAPES[0], SHAPES[4]):
            payload = {
                k: v for k, v in shape.build(column, ds.table_name).items() if k in ("filters", "extras")
            }

            def send(ds=ds, payload=payload):
                r = samples(ds.id, payload)
                if r.status_code != 200:
                    return _verdict(r, area, None)
                return "; ".join(area.leaks(r.json()["result"].get("data") or [], None)[:5]) or None

            sends.append((f"{ds.table_name} / {shape.name}", send))
    failures = _run_all(sends)
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


def test_legacy_explore_json_stays_in_the_area(imported, viewer):
    """/superset/explore_json/ (the legacy charts' endpoint, which the deck.gl maps use) with
    a SIMPLE adhoc filter whose subject is SQL, and with a custom SQL WHERE filter, as JSON
    and as CSV. A country map groups by one column, the area column where there is one."""
    user, area = viewer
    web = browser(user)
    sends = []
    for ds in imported_datasets(imported):
        column = area.column if area.column in ds.columns else next(iter(sorted(ds.columns)))
        filters = {
            "simple subject": [
                {
                    "expressionType": "SIMPLE",
                    "subject": f"1=1 OR {column}",
                    "operator": "IS NOT NULL",
                    "clause": "WHERE",
                }
            ],
            "custom where": [{"expressionType": "SQL", "sqlExpression": "1=1 OR 1=1", "clause": "WHERE"}],
        }
        for name, adhoc in filters.items():
            form_data = country_map_form_data(ds.id, column, adhoc)
            for as_csv in (False, True):

                def send(ds=ds, column=column, form_data=form_data, as_csv=as_csv):
                    params = {"form_data": json.dumps(form_data), **({"csv": "true"} if as_csv else {})}
                    r = web.get(f"{user.url}/superset/explore_json/", params=params, timeout=user.timeout)
                    if r.status_code != 200 or as_csv:
                        return _verdict(r, area, ds.table_name, "csv")
                    payload = r.json()
                    records = [
                        {column: d["country_id"], "n_rows": d["metric"]} for d in payload.get("data") or []
                    ]
                    return "; ".join(area.leaks(records, ds.table_name)) or None

                sends.append((f"{ds.table_name} / {name} / {'csv' if as_csv else 'json'}", send))
    form_data = country_map_form_data(imported.dataset_ids["mart_cases_by_community_daily"], area.column)
    innocent = web.get(
        f"{user.url}/superset/explore_json/", params={"form_data": json.dumps(form_data)}, timeout=60
    )
    assert_route_answers(innocent)
    assert innocent.json()["data"], "the area's own rows are empty on explore_json: the test says nothing"
    failures = _run_all(sends)
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


def test_saved_charts_as_csv_stay_in_the_area(imported, admin, viewer):
    user, area = viewer
    sends = []
    for chart_id, chart in dashboard_charts(admin, imported.dashboard_ids.values()).items():
        if not chart.get("query_context"):
            continue

        def send(chart_id=chart_id):
            r = user.session.get(
                f"{user.url}/api/v1/chart/{chart_id}/data/",
                params={"format": "csv", "type": "full", "force": "true"},
                timeout=user.timeout,
            )
            return _verdict(r, area, None, "csv")

        sends.append((f"chart {chart['slice_name']}", send))
    assert sends, "no saved chart to read"
    failures = _run_all(sends)
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


# --------------------------------------------------------------------------- SQL Lab
ANALYST_ATTEMPTS = {
    "read the web server's environment": "SELECT content FROM read_text('/proc/self/environ')",
    "read /etc/shadow": "SELECT content FROM read_text('/etc/shadow')",
    "read the lake's parquet": "SELECT COUNT(*) FROM read_parquet('/**/*.parquet')",
    "read a source export": "SELECT * FROM read_csv('/work/**/*.csv')",
    "list files": "SELECT * FROM glob('/*')",
    "write a file": "COPY (SELECT 1 AS x) TO '/tmp/civiclake-sqllab-attack.csv'",
    "write a file after a select": "SELECT 1; COPY (SELECT 1 AS x) TO '/tmp/civiclake-sqllab-attack.csv'",
    "attach another database": "ATTACH '/tmp/civiclake-sqllab-attack.duckdb' AS other",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "turn external access back on": "SET enable_external_access = true",
    "unlock the configuration": "SET lock_configuration = false",
    "write into the marts": "CREATE TABLE analyst_scratch AS SELECT 1 AS x",
}


@pytest.fixture(scope="module")
def analyst(make_user) -> SupersetClient:
    return make_user("civiclake_analyst")


@pytest.mark.parametrize("attempt", sorted(ANALYST_ATTEMPTS))
def test_sql_lab_refuses_what_is_not_reading_the_marts(analyst, marts_database_id, attempt):
    r = sql_lab(analyst, marts_database_id, ANALYST_ATTEMPTS[attempt])
    assert r.status_code >= 400, f"SQL Lab ran {attempt!r}: {r.text[:300]}"
    assert not Path("/tmp/civiclake-sqllab-attack.csv").exists()
    assert not Path("/tmp/civiclake-sqllab-attack.duckdb").exists()


def test_sql_lab_reaches_only_the_marts(analyst, marts_database_id):
    """What the analyst's SQL can name: the mart tables, nothing from dbt's staging or
    intermediate relations (they never reach the published file)."""
    r = sql_lab(
        analyst,
        marts_database_id,
        "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2",
    )
    assert r.status_code == 200, r.text[:300]
    tables = {(row["schema_name"], row["table_name"]) for row in r.json()["data"]}
    assert tables, "the analyst sees no table at all"
    assert {schema for schema, _ in tables} == {"main"}, sorted(tables)
    assert all(name.startswith("mart_") for _, name in tables), sorted(tables)


# --------------------------------------------------------------------------- bad input, other viewers
def test_malformed_time_range_is_a_clear_400(imported, viewer):
    user, area = viewer
    web = browser(user)
    form_data = country_map_form_data(
        imported.dataset_ids["mart_cases_by_community_daily"], area.column, time_range="garbage : (("
    )
    r = web.get(f"{user.url}/superset/explore_json/", params={"form_data": json.dumps(form_data)}, timeout=60)
    assert r.status_code == 400, f"HTTP {r.status_code}: {r.text[:300]}"
    assert "time_range" in r.json()["error"]
    body = chart_data_body(imported.dataset_ids["mart_cases_by_community_daily"], area.column, {})
    body["queries"][0]["time_range"] = "Last day : garbage"
    r = user.session.post(f"{user.url}/api/v1/chart/data", json=body, timeout=60)
    assert r.status_code == 400, f"HTTP {r.status_code}: {r.text[:300]}"


def test_async_events_are_a_404_while_asynchronous_queries_are_off(viewer):
    user, _ = viewer
    r = user.session.get(f"{user.url}/api/v1/async_event/", timeout=60)
    assert r.status_code == 404, f"HTTP {r.status_code}: {r.text[:300]}"


def test_a_viewer_learns_no_other_users_email(admin, viewer):
    user, _ = viewer
    everyone = admin.get_all("/api/v1/security/users/")
    assert len(everyone) > 1, "one user only: the test says nothing"
    for resource in ("chart", "dashboard"):
        listed = user.request("GET", f"/api/v1/{resource}/related/owners")["result"]
        assert [entry["extra"].get("email") for entry in listed] in (
            [],
            [f"{user.credentials[0]}@civiclake.test"],
        ), (
            resource,
            listed,
        )
