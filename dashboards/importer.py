"""Import civiclake's Superset assets and access rules through Superset's REST API.

    .venvs/core/bin/python -m dashboards.importer [--marts-file PATH] [--url URL]

What it does, idempotently (a second run changes nothing, a changed YAML file
overwrites what Superset holds):

1. reads the assets in ``dashboards/assets/`` (Superset's own v1 export layout:
   databases/, datasets/, charts/, dashboards/), fills the DuckDB marts URI in,
   adds each chart's ``query_context`` (what Superset's front end would store when
   a chart is saved, so the chart-data API and reports work), zips them and
   POSTs the bundle to ``/api/v1/assets/import/`` — the endpoint meant for assets
   kept under source control: it overwrites databases, datasets, charts and
   dashboards alike (the per-type ``/dashboard/import/`` only overwrites the
   dashboard and leaves changed charts and datasets as they were);
   Dashboards are first expanded to one per level of the 1+6+N system where their
   YAML asks for it (``dashboards/levels.py``), and dashboards naming a theme are
   pointed at it after the import (``dashboards/themes.py``);
2. makes roles, row-level-security rules and users match ``dashboards/access.yaml``
   and ``dashboards/users.yaml`` (Superset's export carries none of them): see
   ``dashboards/access.py`` — deny by default on every imported dataset, one rule
   per street / community role.

It needs only ``requests`` and ``pyyaml`` (the core environment has both): it talks
HTTP and never imports Superset, so it runs from any environment, CI included.

Settings (flags win over environment):
  --url / SUPERSET_URL                      default http://127.0.0.1:8088
  --username / SUPERSET_ADMIN_USER          default admin
  SUPERSET_ADMIN_PASSWORD                   required (read from var/secrets.env if unset)
  --marts-file / CIVICLAKE_MARTS_FILE       default var/marts/civiclake.duckdb
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dashboards import access, themes
from dashboards.boundaries import with_boundaries
from dashboards.levels import LevelsError, expand_levels
from dashboards.superset_client import AssetImportError, SupersetClient

ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_URL = "http://127.0.0.1:8088"
DEFAULT_MARTS_FILE = "var/marts/civiclake.duckdb"
ASSET_KINDS = ("databases", "datasets", "charts", "dashboards")
# Charts Superset still renders through its legacy endpoint (/superset/explore_json/):
# they store no query_context, as Superset's own deck.gl examples do.
LEGACY_VIZ_TYPES = frozenset({"deck_polygon", "deck_geojson", "deck_scatter", "deck_multi"})


# --------------------------------------------------------------------------- config
def read_secret(name: str) -> str:
    """From the environment, else from var/secrets.env (``export NAME=value``)."""
    value = os.environ.get(name, "")
    if value:
        return value
    secrets = ROOT / "var" / "secrets.env"
    if secrets.exists():
        for line in secrets.read_text(encoding="utf-8").splitlines():
            m = re.match(rf"^(?:export\s+)?{re.escape(name)}=(.*)$", line.strip())
            if m:
                return m.group(1).strip().strip("'\"")
    raise AssetImportError(
        f"{name} is not set and not in {secrets}: run `bash infra/secrets.sh` (or export it) first"
    )


def resolve_marts_file(path: str | os.PathLike | None = None) -> Path:
    raw = path or os.environ.get("CIVICLAKE_MARTS_FILE") or DEFAULT_MARTS_FILE
    p = Path(raw)
    if not p.is_absolute():
        p = ROOT / p
    return p.resolve()


def duckdb_uri(marts_file: Path) -> str:
    # duckdb-engine: duckdb:///<path>; an absolute path gives four slashes.
    return f"duckdb:///{marts_file.as_posix()}"


# --------------------------------------------------------------------------- assets
def load_assets(assets_dir: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """``{"charts/x.yaml": {...}, ...}`` for every YAML file of the four kinds."""
    assets: dict[str, dict[str, Any]] = {}
    for kind in ASSET_KINDS:
        for f in sorted((assets_dir / kind).rglob("*.yaml")):
            rel = f.relative_to(assets_dir).as_posix()
            try:
                content = yaml.safe_load(f.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise AssetImportError(f"{f}: not valid YAML: {exc}") from exc
            if not isinstance(content, dict) or "uuid" not in content:
                raise AssetImportError(f"{f}: expected a mapping with a 'uuid' (Superset v1 asset)")
            assets[rel] = content
    if not any(k.startswith("dashboards/") for k in assets):
        raise AssetImportError(f"no dashboards found under {assets_dir}/dashboards")
    return assets


def _time_column(dataset: dict[str, Any]) -> set[str]:
    return {c["column_name"] for c in dataset.get("columns", []) if c.get("is_dttm")}


def _filters_from_adhoc(adhoc: list[dict[str, Any]]) -> tuple[list[dict], dict, str]:
    """Split adhoc filters the way the front end's buildQuery does."""
    filters: list[dict[str, Any]] = []
    where: list[str] = []
    having: list[str] = []
    time_range = "No filter"
    for f in adhoc or []:
        if f.get("expressionType") == "SQL":
            (having if f.get("clause") == "HAVING" else where).append(f"({f['sqlExpression']})")
            continue
        if f.get("operator") == "TEMPORAL_RANGE":
            time_range = f.get("comparator") or "No filter"
        filters.append({"col": f["subject"], "op": f["operator"], "val": f.get("comparator")})
    return filters, {"where": " AND ".join(where), "having": " AND ".join(having)}, time_range


def build_query_context(chart: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """The query context Superset's front end stores when the chart is saved.

    Covers the chart types civiclake ships (big_number, big_number_total, table,
    pie, echarts_timeseries_bar/line); the ids are fixed by Superset on import.
    """
    params = chart["params"]
    viz = params["viz_type"]
    filters, extras, time_range = _filters_from_adhoc(params.get("adhoc_filters", []))
    temporal = _time_column(dataset)
    query: dict[str, Any] = {
        "filters": filters,
        "extras": extras,
        "applied_time_extras": {},
        "time_range": time_range,
        "annotation_layers": [],
        "series_limit": 0,
        "order_desc": bool(params.get("order_desc", True)),
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    groupby = list(params.get("groupby") or [])
    if viz in ("big_number", "echarts_timeseries_bar", "echarts_timeseries_line"):
        x = params["x_axis"]
        axis: dict[str, Any] = {
            "columnType": "BASE_AXIS",
            "sqlExpression": x,
            "label": x,
            "expressionType": "SQL",
        }
        if x in temporal:
            axis["timeGrain"] = params.get("time_grain_sqla", "P1D")
        metrics = [params["metric"]] if viz == "big_number" else list(params["metrics"])
        query.update(columns=[axis, *groupby], series_columns=groupby, metrics=metrics)
        if x in temporal:
            query["orderby"] = [[axis["sqlExpression"], True]]
        else:
            sort = params.get("x_axis_sort") or metrics[0]
            query["orderby"] = [[sort, bool(params.get("x_axis_sort_asc", False))]]
        query["row_limit"] = params.get("row_limit", 10000)
    elif viz == "big_number_total":
        query.update(columns=[], metrics=[params["metric"]], row_limit=1)
    elif viz == "pie":
        query.update(
            columns=groupby,
            metrics=[params["metric"]],
            orderby=[[params["metric"], False]] if params.get("sort_by_metric") else [],
            row_limit=params.get("row_limit", 100),
        )
    elif viz == "table" and params.get("query_mode", "aggregate") == "aggregate":
        metrics = list(params.get("metrics") or [])
        sort = params.get("timeseries_limit_metric") or (metrics[0] if metrics else None)
        query.update(
            columns=groupby,
            metrics=metrics,
            orderby=[[sort, not params.get("order_desc", True)]] if sort else [],
            row_limit=params.get("row_limit", 1000),
        )
    elif viz == "table":
        query.update(
            columns=list(params.get("all_columns") or []),
            # None, not []: Superset groups by the columns whenever metrics is a list,
            # and a raw table's rows are the records themselves
            metrics=None,
            # Superset's form data keeps each raw-table sort as a JSON string '["column", asc]'.
            orderby=[
                json.loads(o) if isinstance(o, str) else list(o) for o in params.get("order_by_cols") or []
            ],
            row_limit=params.get("row_limit", 1000),
        )
    else:
        raise AssetImportError(
            f"chart {chart['slice_name']!r}: no query_context given and viz_type {viz!r} "
            "is not one dashboards/importer.py can build; save the chart in Superset, "
            "export it and copy its query_context into the YAML"
        )
    return {
        "datasource": {"id": 0, "type": "table"},  # replaced by Superset on import
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def map_layers(assets: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Layer chart uuids of each deck.gl multi-layer chart, bottom layer first.

    Superset names a multi-layer chart's layers by chart id (``deck_slices``), which only
    exists once the layers are imported; the YAML names them by uuid instead
    (``civiclake_layer_uuids``)."""
    charts = {a["uuid"]: rel for rel, a in assets.items() if rel.startswith("charts/")}
    layers: dict[str, list[str]] = {}
    for rel, chart in assets.items():
        if not rel.startswith("charts/") or chart["params"].get("viz_type") != "deck_multi":
            continue
        uuids = chart["params"].get("civiclake_layer_uuids") or []
        if not uuids:
            raise AssetImportError(f"{rel}: a deck_multi chart needs params.civiclake_layer_uuids")
        for uuid in uuids:
            layer = assets.get(charts.get(uuid, ""))
            if layer is None or layer["params"].get("viz_type") not in LEGACY_VIZ_TYPES - {"deck_multi"}:
                raise AssetImportError(
                    f"{rel}: layer {uuid} is not a deck.gl chart of dashboards/assets/charts"
                )
        layers[chart["uuid"]] = list(uuids)
    return layers


def build_bundle(
    assets: dict[str, dict[str, Any]], marts_uri: str, chart_ids: dict[str, int] | None = None
) -> bytes:
    """A zip in Superset's v1 export layout, ready for /api/v1/assets/import/.

    ``chart_ids`` (uuid -> id of the charts Superset already holds) fills the layers of
    multi-layer maps; layers not imported yet are linked after the import."""
    datasets_by_uuid = {a["uuid"]: a for k, a in assets.items() if k.startswith("datasets/")}
    layers = map_layers(assets)
    chart_ids = chart_ids or {}
    buf = io.BytesIO()
    root = "civiclake_assets"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        meta = {"version": "1.0.0", "type": "assets", "timestamp": datetime.now(UTC).isoformat()}
        z.writestr(f"{root}/metadata.yaml", yaml.safe_dump(meta))
        for rel, content in assets.items():
            content = json.loads(json.dumps(content))  # deep copy
            content.pop(themes.THEME_KEY, None)  # civiclake's own key, applied after the import
            if rel.startswith("databases/"):
                content["sqlalchemy_uri"] = content["sqlalchemy_uri"].replace(
                    "${CIVICLAKE_MARTS_URI}", marts_uri
                )
            if rel.startswith("datasets/") and content.get("sql"):
                content["sql"] = with_boundaries(content["sql"])
            if rel.startswith("charts/") and content["uuid"] in layers:
                known = [chart_ids.get(uuid) for uuid in layers[content["uuid"]]]
                content["params"]["deck_slices"] = known if None not in known else []
            if rel.startswith("charts/") and content["params"]["viz_type"] in LEGACY_VIZ_TYPES:
                content["query_context"] = None
            elif rel.startswith("charts/"):
                qc = content.get("query_context")
                if qc is None:
                    dataset = datasets_by_uuid.get(content["dataset_uuid"])
                    if dataset is None:
                        raise AssetImportError(
                            f"{rel}: dataset_uuid {content['dataset_uuid']} "
                            "is not one of dashboards/assets/datasets"
                        )
                    qc = build_query_context(content, dataset)
                if not isinstance(qc, str):
                    content["query_context"] = json.dumps(qc, ensure_ascii=False)
            leftover = re.findall(r"\$\{[A-Z_]+\}", json.dumps(content))
            if leftover:
                raise AssetImportError(f"{rel}: unresolved placeholder(s) {leftover}")
            z.writestr(f"{root}/{rel}", yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return buf.getvalue()


# --------------------------------------------------------------------------- result
@dataclass
class ImportResult:
    url: str
    marts_file: Path
    dashboard_ids: dict[str, int] = field(default_factory=dict)  # uuid -> id
    chart_ids: dict[str, int] = field(default_factory=dict)  # uuid -> id
    dataset_ids: dict[str, int] = field(default_factory=dict)  # table_name -> id
    role_ids: dict[str, int] = field(default_factory=dict)  # role name -> id
    rls_ids: dict[str, int] = field(default_factory=dict)  # rule name -> id
    user_ids: dict[str, int] = field(default_factory=dict)  # username -> id


# --------------------------------------------------------------------------- main
def run_import(
    url: str | None = None,
    marts_file: str | os.PathLike | None = None,
    username: str | None = None,
    password: str | None = None,
    assets_dir: Path = ASSETS_DIR,
    access_file: Path = access.ACCESS_FILE,
    users_file: Path = access.USERS_FILE,
) -> ImportResult:
    url = url or os.environ.get("SUPERSET_URL") or DEFAULT_URL
    marts = resolve_marts_file(marts_file)
    if not marts.is_file():
        raise AssetImportError(
            f"marts file {marts} not found: build it with the pipeline, or point "
            "CIVICLAKE_MARTS_FILE / --marts-file at an existing DuckDB file"
        )
    assets = expand_levels(load_assets(assets_dir))
    theme_files = themes.load_themes()
    wanted_themes = themes.dashboard_themes(assets, theme_files)
    access_config = access.load_access(access_file)
    users = access.load_users(access_config, users_file)

    client = SupersetClient(
        url,
        username or os.environ.get("SUPERSET_ADMIN_USER", "admin"),
        password or read_secret("SUPERSET_ADMIN_PASSWORD"),
    )
    bundle = build_bundle(assets, duckdb_uri(marts), _ids_by_uuid(client, "chart"))
    client.request(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("civiclake_assets.zip", bundle, "application/zip")},
        data={"overwrite": "true"},
    )

    result = ImportResult(url=url, marts_file=marts)
    for kind, api in (("datasets/", "dataset"), ("charts/", "chart"), ("dashboards/", "dashboard")):
        in_superset = _ids_by_uuid(client, api)
        for rel, a in assets.items():
            if not rel.startswith(kind):
                continue
            if a["uuid"] not in in_superset:
                raise AssetImportError(f"{rel}: uuid {a['uuid']} not in Superset after import")
            if kind == "datasets/":
                result.dataset_ids[a["table_name"]] = in_superset[a["uuid"]]
            elif kind == "charts/":
                result.chart_ids[a["uuid"]] = in_superset[a["uuid"]]
            else:
                result.dashboard_ids[a["uuid"]] = in_superset[a["uuid"]]
    _link_map_layers(client, map_layers(assets), result.chart_ids)
    themes.apply_themes(client, wanted_themes, theme_files, result.dashboard_ids)
    granted = access.apply_access(
        client,
        access_config,
        users,
        access.user_passwords(users),
        access.imported_datasets(assets, result.dataset_ids),
        [a["database_name"] for rel, a in assets.items() if rel.startswith("databases/")],
    )
    result.role_ids, result.rls_ids, result.user_ids = granted.role_ids, granted.rls_ids, granted.user_ids
    return result


def _link_map_layers(client: SupersetClient, layers: dict[str, list[str]], chart_ids: dict[str, int]) -> None:
    """Point each multi-layer map at its layers' chart ids, where the import could not
    (the layers were new to Superset)."""
    for map_uuid, layer_uuids in layers.items():
        chart_id = chart_ids[map_uuid]
        params = json.loads(client.request("GET", f"/api/v1/chart/{chart_id}")["result"]["params"])
        wanted = [chart_ids[uuid] for uuid in layer_uuids]
        if params.get("deck_slices") != wanted:
            params["deck_slices"] = wanted
            client.request(
                "PUT", f"/api/v1/chart/{chart_id}", json={"params": json.dumps(params, ensure_ascii=False)}
            )


def _ids_by_uuid(client: SupersetClient, api: str) -> dict[str, int]:
    """uuid -> id of every dataset/chart/dashboard (the list API has no uuid filter)."""
    rows = client.get_all(f"/api/v1/{api}/", "columns:!(id,uuid)")
    return {str(r["uuid"]): r["id"] for r in rows if r.get("uuid")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m dashboards.importer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", help=f"Superset base URL (SUPERSET_URL, default {DEFAULT_URL})")
    ap.add_argument(
        "--marts-file",
        help=f"DuckDB marts file (CIVICLAKE_MARTS_FILE, default {DEFAULT_MARTS_FILE})",
    )
    ap.add_argument("--username", help="admin user (SUPERSET_ADMIN_USER, default admin)")
    args = ap.parse_args(argv)
    try:
        res = run_import(args.url, args.marts_file, args.username)
    except (AssetImportError, access.AccessError, LevelsError) as exc:
        print(f"[dashboards] import failed: {exc}", file=sys.stderr)
        return 1
    print(f"[dashboards] imported into {res.url} (marts: {res.marts_file})")
    print(f"[dashboards]   datasets {res.dataset_ids}")
    print(
        f"[dashboards]   charts {sorted(res.chart_ids.values())}, "
        f"dashboards {sorted(res.dashboard_ids.values())}"
    )
    print(
        f"[dashboards]   roles {len(res.role_ids)}, RLS rules {len(res.rls_ids)}, "
        f"users {sorted(res.user_ids)} (logins: python -m dashboards.access)"
    )
    for dash_id in res.dashboard_ids.values():
        print(f"[dashboards]   {res.url}/superset/dashboard/{dash_id}/")
    print(
        f"[dashboards]   saved links (each viewer's level): {res.url}/civiclake/screen/ {res.url}/civiclake/mobile/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
