"""The Superset assets hold together without a Superset: every chart names its dataset's
own metrics and columns, every dashboard fits its 12-column grid and names real charts
that have an expected SQL in their e2e check, every dataset of a mart names only columns
of the mart's dbt contract and carries the row-level-security columns, every piece of
SQL (virtual datasets, calculated columns, metrics, the e2e expected SQL) runs on empty
tables built from the contracts, and the 三级联动 panel gives hand-computed numbers for
the district and for street viewers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest
import yaml

from civiclake.marts import REQUIRED_TABLES
from dashboards.boundaries import with_boundaries
from dashboards.importer import load_assets
from dashboards.levels import expand_levels, variant_uuid
from tests.e2e.test_superset_dashboard import DASHBOARD_UUID as OVERVIEW
from tests.e2e.test_superset_dashboard import EXPECTED_SQL as OVERVIEW_SQL
from tests.e2e.test_superset_screens import COMMAND_SCREEN, LEADER_MOBILE, expected_sql, has_expected_sql
from tests.e2e.test_superset_screens import EXPECTED_SQL as SCREENS_SQL

ROOT = Path(__file__).resolve().parents[2]
MARTS_DBT = ROOT / "dbt" / "models" / "marts"
GRID_COLUMNS = 12
RLS_COLUMNS = {"street_code", "community_code"}
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
}

ASSETS = expand_levels(load_assets())  # every level's dashboards and chart versions
DATASETS = {a["uuid"]: (rel, a) for rel, a in ASSETS.items() if rel.startswith("datasets/")}
CHARTS = {a["uuid"]: (rel, a) for rel, a in ASSETS.items() if rel.startswith("charts/")}
DASHBOARDS = {a["uuid"]: (rel, a) for rel, a in ASSETS.items() if rel.startswith("dashboards/")}


def _contracts() -> dict[str, list[dict]]:
    """mart name -> its contract columns, from every dbt YAML under dbt/models/marts."""
    models = {}
    for f in sorted(MARTS_DBT.rglob("*.yml")):
        for model in yaml.safe_load(f.read_text(encoding="utf-8")).get("models") or []:
            models[model["name"]] = model["columns"]
    return models


CONTRACTS = _contracts()


def _chart_ids(dashboard: dict) -> list[str]:
    return [
        c["meta"]["uuid"]
        for c in dashboard["position"].values()
        if isinstance(c, dict) and c.get("type") == "CHART"
    ]


@pytest.fixture(scope="module")
def empty_marts(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """Every mart as an empty table with its contract's columns and types."""
    con = duckdb.connect(str(tmp_path_factory.mktemp("marts") / "marts.duckdb"))
    for mart, columns in CONTRACTS.items():
        cols = ", ".join(f"{c['name']} {DUCKDB_TYPES[c['data_type']]}" for c in columns)
        con.execute(f"create table main.{mart} ({cols})")
    yield con
    con.close()


@pytest.mark.parametrize("chart_uuid", sorted(CHARTS))
def test_chart_names_its_datasets_metrics_and_columns(chart_uuid):
    rel, chart = CHARTS[chart_uuid]
    assert chart["dataset_uuid"] in DATASETS, f"{rel}: dataset {chart['dataset_uuid']} not in assets/datasets"
    dataset = DATASETS[chart["dataset_uuid"]][1]
    metrics = {m["metric_name"] for m in dataset["metrics"]}
    columns = {c["column_name"] for c in dataset["columns"]}
    params = chart["params"]
    named_metrics = [
        *(params.get("metrics") or []),
        params.get("metric"),
        params.get("timeseries_limit_metric"),
    ]
    for metric in filter(None, named_metrics):
        if isinstance(metric, str):  # adhoc metrics carry their own SQL
            assert metric in metrics, f"{rel}: metric {metric!r} is not one of its dataset's"
    named_columns = [*(params.get("groupby") or []), *(params.get("all_columns") or [])]
    named_columns += [
        f["subject"] for f in params.get("adhoc_filters") or [] if f.get("expressionType") == "SIMPLE"
    ]
    if params.get("x_axis"):
        named_columns.append(params["x_axis"])
    for column in named_columns:
        assert column in columns, f"{rel}: column {column!r} is not one of its dataset's"


@pytest.mark.parametrize("dashboard_uuid", sorted(DASHBOARDS))
def test_dashboard_fits_its_grid_and_names_real_charts(dashboard_uuid):
    rel, dashboard = DASHBOARDS[dashboard_uuid]
    position = dashboard["position"]
    for component in position.values():
        if not isinstance(component, dict):
            continue
        for child in component.get("children") or []:
            assert child in position, f"{rel}: {component['id']} names a missing component {child}"
            assert position[child].get("parents", [])[-1:] == [component["id"]], f"{rel}: {child}'s parents"
        if component["type"] == "ROW":
            width = sum(position[c]["meta"]["width"] for c in component["children"])
            assert width <= GRID_COLUMNS, f"{rel}: {component['id']} is {width} columns wide"
        if component["type"] == "CHART":
            chart_uuid = component["meta"]["uuid"]
            assert chart_uuid in CHARTS, f"{rel}: {component['id']} names chart {chart_uuid}, not in assets"
            assert component["meta"]["sliceName"] == CHARTS[chart_uuid][1]["slice_name"], component["id"]
    placed = {c for c in position if c not in ("DASHBOARD_VERSION_KEY", "ROOT_ID", "HEADER_ID")}
    reachable, todo = set(), ["GRID_ID"]
    while todo:
        node = todo.pop()
        reachable.add(node)
        todo.extend(position[node].get("children") or [])
    assert placed == reachable, f"{rel}: components outside the grid: {sorted(placed - reachable)}"


def test_every_chart_is_on_a_dashboard_or_a_map_layer():
    on_dashboards = {u for _, d in DASHBOARDS.values() for u in _chart_ids(d)}
    layers = {u for _, c in CHARTS.values() for u in c["params"].get("civiclake_layer_uuids") or []}
    assert set(CHARTS) - on_dashboards - layers == set()


def test_every_overview_chart_has_its_expected_sql_in_the_e2e_check():
    _, dashboard = DASHBOARDS[OVERVIEW]
    assert set(_chart_ids(dashboard)) - set(OVERVIEW_SQL) == set()


@pytest.mark.parametrize("level", ["district", "street", "community"])
@pytest.mark.parametrize("screen", [COMMAND_SCREEN, LEADER_MOBILE], ids=["command-screen", "leader-mobile"])
def test_every_screen_chart_of_every_level_has_its_expected_sql(screen, level):
    _, dashboard = DASHBOARDS[variant_uuid(screen, level, "dashboard")]
    assert {c for c in _chart_ids(dashboard) if not has_expected_sql(c)} == set()


@pytest.mark.parametrize("dataset_uuid", sorted(DATASETS))
def test_dataset_carries_the_rls_columns_and_the_latest_day(dataset_uuid):
    rel, dataset = DATASETS[dataset_uuid]
    columns = {c["column_name"]: c for c in dataset["columns"]}
    assert set(columns) >= RLS_COLUMNS, f"{rel}: row-level security needs {sorted(RLS_COLUMNS)}"
    assert dataset["description"], f"{rel}: no description"
    if dataset["table_name"].endswith("_daily"):  # one row per day: the 'today' charts need it
        assert "is_latest_day" in columns, f"{rel}: no is_latest_day for the 'today' charts"
    assert len({m["metric_name"] for m in dataset["metrics"]}) == len(dataset["metrics"]), rel


@pytest.mark.parametrize("dataset_uuid", sorted(u for u, (_, a) in DATASETS.items() if not a.get("sql")))
def test_mart_dataset_columns_are_the_marts_contract_columns(dataset_uuid):
    """A dataset may leave a mart's column out, never name one the mart lacks or type it otherwise."""
    rel, dataset = DATASETS[dataset_uuid]
    contract = {c["name"]: DUCKDB_TYPES[c["data_type"]] for c in CONTRACTS[dataset["table_name"]]}
    for column in dataset["columns"]:
        if not column.get("expression"):
            assert contract.get(column["column_name"]) == column["type"], f"{rel}: {column['column_name']}"


def test_every_mart_a_dataset_reads_is_published():
    """The published marts file holds REQUIRED_TABLES only: a dataset of another table finds nothing."""
    tables = {a["table_name"] for _, a in DATASETS.values() if not a.get("sql")}
    assert tables - set(REQUIRED_TABLES) == set()


@pytest.mark.parametrize("dataset_uuid", sorted(DATASETS))
def test_dataset_sql_runs_on_the_marts(empty_marts, dataset_uuid):
    """The virtual SQL, each calculated column and each metric, on the contracts' tables."""
    rel, dataset = DATASETS[dataset_uuid]
    sql = with_boundaries(dataset.get("sql") or "")
    source = f"({sql})" if sql else f"main.{dataset['table_name']}"
    selected = [c["expression"] for c in dataset["columns"] if c.get("expression")]
    selected += [c["column_name"] for c in dataset["columns"] if not c.get("expression")]
    empty_marts.execute(f"select {', '.join(selected)} from {source} as virtual_table").fetchall()
    metrics = ", ".join(m["expression"] for m in dataset["metrics"])
    empty_marts.execute(f"select {metrics} from {source} as virtual_table").fetchall()


@pytest.mark.parametrize("chart_uuid", sorted({**OVERVIEW_SQL, **SCREENS_SQL}))
def test_expected_sql_of_the_e2e_checks_runs_on_the_marts(empty_marts, chart_uuid):
    sql = OVERVIEW_SQL[chart_uuid] if chart_uuid in OVERVIEW_SQL else expected_sql(chart_uuid)
    empty_marts.execute(sql.format(where="street_code = '440309002'")).fetchall()


# --------------------------------------------------------------------------- 三级联动
LINKAGE_CHART = "9dae05be-cc8f-5afd-be88-cbecad13066e"
STREET_A, STREET_B = "440309002", "440309006"
# (day, level, area, street, community, escalations to street / to district / beyond competence,
#  closures with orders, resolved at community); the street and district rows are the sums.
LINKAGE_ROWS = [
    ("2026-11-23", "community", "A1", STREET_A, "A1", 10, 0, 0, 9, 9),  # not the newest day
    ("2026-11-24", "community", "A1", STREET_A, "A1", 2, 1, 1, 4, 3),
    ("2026-11-24", "community", "A2", STREET_A, "A2", 1, 0, 0, 2, 0),
    ("2026-11-24", "community", "B1", STREET_B, "B1", 4, 1, 2, 10, 10),
    ("2026-11-24", "street", STREET_A, STREET_A, None, 3, 1, 1, 6, 3),
    ("2026-11-24", "street", STREET_B, STREET_B, None, 4, 1, 2, 10, 10),
    ("2026-11-24", "district", "440309", None, None, 7, 2, 3, 16, 13),
]


def _area_scope():
    """infra/superset/area_scope.py, loaded from its path as superset_config.py loads it."""
    spec = importlib.util.spec_from_file_location("area_scope", ROOT / "infra" / "superset" / "area_scope.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _superset_query(chart: dict, dataset: dict) -> str:
    """The chart's query as Superset composes it for a metrics-only table: the saved metrics
    over the virtual dataset, WHERE the calculated is_latest_day and the simple filters."""
    metrics = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}
    calculated = {c["column_name"]: c["expression"] for c in dataset["columns"] if c.get("expression")}
    select = ", ".join(f"{metrics[m]} AS {m}" for m in chart["params"]["metrics"])
    where = []
    for f in chart["params"]["adhoc_filters"]:
        column = calculated.get(f["subject"], f["subject"])
        if f["operator"] == "IS TRUE":
            where.append(f"({column}) IS TRUE")
        elif f["operator"] == "==":
            where.append(f"{column} = '{f['comparator']}'")
    return f"SELECT {select} FROM ({dataset['sql']}) AS virtual_table WHERE {' AND '.join(where)}"


@pytest.mark.parametrize(
    "street,want",
    [(None, (7, 2, 3, 13 / 16)), (STREET_A, (3, 1, 1, 3 / 6)), (STREET_B, (4, 1, 2, 1.0))],
    ids=["district", "street-a", "street-b"],
)
def test_linkage_panel_sums_the_viewers_communities_on_the_newest_day(street, want):
    """三级联动: escalations by where they went and the share resolved in the community, on
    the newest day, over the viewer's communities only (each table of the virtual dataset
    scoped the way infra/superset/area_scope.py scopes a street viewer's query)."""
    con = duckdb.connect()
    for mart in ("mart_escalations_daily", "mart_command_promises_daily"):
        cols = ", ".join(f"{c['name']} {DUCKDB_TYPES[c['data_type']]}" for c in CONTRACTS[mart])
        con.execute(f"create table main.{mart} ({cols})")
    for (
        day,
        level,
        area,
        street_code,
        community,
        to_street,
        to_district,
        beyond,
        closed,
        local,
    ) in LINKAGE_ROWS:
        grain = [day, level, area, area, None, street_code, community]
        con.execute(
            "insert into mart_escalations_daily (report_date, level, area_code, area_name, parent_code, "
            "street_code, community_code, escalations, escalated_to_street, escalated_to_district, "
            "escalated_beyond_competence) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*grain, to_street + to_district, to_street, to_district, beyond],
        )
        con.execute(
            "insert into mart_command_promises_daily (report_date, level, area_code, area_name, parent_code, "
            "street_code, community_code, closures_with_orders, resolved_at_community) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*grain, closed, local],
        )
    chart = CHARTS[LINKAGE_CHART][1]
    query = _superset_query(chart, DATASETS[chart["dataset_uuid"]][1])
    if street:
        query = _area_scope().scope_query(query, lambda schema, table: [f"street_code = '{street}'"])
    (got,) = con.execute(query).fetchall()
    assert got == pytest.approx(want)
    where = f"street_code = '{street}'" if street else "true"
    assert con.execute(SCREENS_SQL[LINKAGE_CHART].format(where=where)).fetchall() == [pytest.approx(want)]
