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
2. creates the roles of ``dashboards/access.yaml`` (each = Gamma's permissions +
   read access to the listed datasets) and one row-level-security rule per
   filtered role on every listed dataset (Superset's export carries neither).

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

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ACCESS_FILE = Path(__file__).resolve().parent / "access.yaml"
DEFAULT_URL = "http://127.0.0.1:8088"
DEFAULT_MARTS_FILE = "var/marts/civiclake.duckdb"
ASSET_KINDS = ("databases", "datasets", "charts", "dashboards")
RLS_PREFIX = "civiclake: "  # names of the RLS rules this importer owns


class AssetImportError(RuntimeError):
    """A problem the operator can act on; the message says what and where."""


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
            metrics=[],
            orderby=[[c, asc] for c, asc in params.get("order_by_cols") or []],
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


def build_bundle(assets: dict[str, dict[str, Any]], marts_uri: str) -> bytes:
    """A zip in Superset's v1 export layout, ready for /api/v1/assets/import/."""
    datasets_by_uuid = {a["uuid"]: a for k, a in assets.items() if k.startswith("datasets/")}
    buf = io.BytesIO()
    root = "civiclake_assets"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        meta = {"version": "1.0.0", "type": "assets", "timestamp": datetime.now(UTC).isoformat()}
        z.writestr(f"{root}/metadata.yaml", yaml.safe_dump(meta))
        for rel, content in assets.items():
            content = json.loads(json.dumps(content))  # deep copy
            if rel.startswith("databases/"):
                content["sqlalchemy_uri"] = content["sqlalchemy_uri"].replace(
                    "${CIVICLAKE_MARTS_URI}", marts_uri
                )
            if rel.startswith("charts/"):
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


# --------------------------------------------------------------------------- client
class SupersetClient:
    """Superset REST API with JWT login and CSRF token (CSRF stays enabled)."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Referer"] = self.url
        self._credentials = (username, password)
        self._login(username, password)

    def _login(self, username: str, password: str) -> None:
        try:
            r = self.session.post(
                f"{self.url}/api/v1/security/login",
                timeout=self.timeout,
                json={
                    "username": username,
                    "password": password,
                    "provider": "db",
                    "refresh": True,
                },
            )
        except requests.ConnectionError as exc:
            raise AssetImportError(
                f"Superset does not answer at {self.url}: start it with `bash infra/superset/start.sh`"
            ) from exc
        if r.status_code != 200:
            raise AssetImportError(
                f"login as {username!r} at {self.url} failed (HTTP {r.status_code}): {r.text[:300]}"
            )
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["X-CSRFToken"] = token

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        r = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if r.status_code == 401 and "expired" in r.text.lower():
            # Superset's access tokens last 15 minutes; a client held longer logs in again once.
            self._login(*self._credentials)
            r = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if r.status_code not in ok:
            raise AssetImportError(f"{method} {path} → HTTP {r.status_code}: {r.text[:1000]}")
        return r.json() if r.content else None

    def get_all(self, path: str, q: str = "") -> list[dict[str, Any]]:
        """Every row of a list endpoint (pages of 100), q in rison without page args."""
        out: list[dict[str, Any]] = []
        page = 0
        while True:
            inner = f"{q}," if q else ""
            res = self.request("GET", f"{path}?q=({inner}page:{page},page_size:100)")
            rows = res.get("result", [])
            out += rows
            if len(rows) < 100:
                return out
            page += 1


def rison_str(value: str) -> str:
    """A rison string literal (quotes always; ' and ! escaped with !)."""
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


# --------------------------------------------------------------------------- access
@dataclass
class ImportResult:
    url: str
    marts_file: Path
    dashboard_ids: dict[str, int] = field(default_factory=dict)  # uuid -> id
    chart_ids: dict[str, int] = field(default_factory=dict)  # uuid -> id
    dataset_ids: dict[str, int] = field(default_factory=dict)  # table_name -> id
    role_ids: dict[str, int] = field(default_factory=dict)  # role name -> id
    rls_ids: dict[str, int] = field(default_factory=dict)  # rule name -> id


def load_access(path: Path = ACCESS_FILE) -> dict[str, Any]:
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = [r["name"] for r in cfg.get("roles", [])]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise AssetImportError(f"{path}: role(s) listed twice: {sorted(dupes)}")
    for r in cfg.get("roles", []):
        for col, val in (r.get("rls") or {}).items():
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", col) or not re.fullmatch(r"[0-9A-Za-z_-]+", str(val)):
                raise AssetImportError(
                    f"{path}: role {r['name']}: rls {col}={val!r} must be a "
                    "plain column name and a plain code"
                )
    return cfg


def _find_role(client: SupersetClient, name: str) -> int | None:
    rows = client.get_all("/api/v1/security/roles/", f"filters:!((col:name,opr:eq,value:{rison_str(name)}))")
    return next((r["id"] for r in rows if r["name"] == name), None)


def ensure_role(client: SupersetClient, name: str) -> int:
    role_id = _find_role(client, name)
    if role_id is None:
        role_id = client.request("POST", "/api/v1/security/roles/", json={"name": name})["id"]
    return role_id


def _datasource_access_ids(client: SupersetClient, dataset_ids: dict[str, int]) -> dict[str, int]:
    """permission-view id of ``datasource_access`` for each dataset (table name -> id)."""
    perms = client.get_all(
        "/api/v1/security/permissions-resources/",
        f"filters:!((col:permission,opr:rel_o_m,value:{_permission_id(client, 'datasource_access')}))",
    )
    out: dict[str, int] = {}
    for table, ds_id in dataset_ids.items():
        suffix = f"].[{table}](id:{ds_id})"
        match = [p["id"] for p in perms if p["view_menu"]["name"].endswith(suffix)]
        if not match:
            raise AssetImportError(
                f"no datasource_access permission for dataset {table} "
                f"(id {ds_id}); run `bash infra/superset/setup.sh` (superset init)"
            )
        out[table] = match[0]
    return out


def _permission_id(client: SupersetClient, name: str) -> int:
    rows = client.get_all(
        "/api/v1/security/permissions/", f"filters:!((col:name,opr:eq,value:{rison_str(name)}))"
    )
    for r in rows:
        if r["name"] == name:
            return r["id"]
    raise AssetImportError(f"Superset has no permission named {name!r}")


def apply_access(
    client: SupersetClient, cfg: dict[str, Any], dataset_ids: dict[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Roles (base role's permissions + dataset access) and RLS rules, idempotently."""
    datasets = cfg.get("datasets") or sorted(dataset_ids)
    unknown = [d for d in datasets if d not in dataset_ids]
    if unknown:
        raise AssetImportError(f"access.yaml lists dataset(s) not in dashboards/assets: {unknown}")
    wanted_ds = {d: dataset_ids[d] for d in datasets}
    ds_perm = _datasource_access_ids(client, wanted_ds)

    base_name = cfg.get("base_role", "Gamma")
    base_id = _find_role(client, base_name)
    if base_id is None:
        raise AssetImportError(f"base role {base_name!r} not found; run `superset init`")
    base_perms = {
        p["id"] for p in client.request("GET", f"/api/v1/security/roles/{base_id}/permissions/")["result"]
    }
    role_ids: dict[str, int] = {}
    for role in cfg.get("roles", []):
        role_id = ensure_role(client, role["name"])
        role_ids[role["name"]] = role_id
        perm_ids = sorted(base_perms | set(ds_perm.values()))
        current = {
            p["id"] for p in client.request("GET", f"/api/v1/security/roles/{role_id}/permissions/")["result"]
        }
        if current != set(perm_ids):
            client.request(
                "POST",
                f"/api/v1/security/roles/{role_id}/permissions",
                json={"permission_view_menu_ids": perm_ids},
            )

    # RLS: one "Regular" rule per filtered role, over every listed dataset.
    existing = {
        r["name"]: r for r in client.get_all("/api/v1/rowlevelsecurity/") if r["name"].startswith(RLS_PREFIX)
    }
    rls_ids: dict[str, int] = {}
    for role in cfg.get("roles", []):
        rls = role.get("rls") or {}
        if not rls:
            continue
        name = f"{RLS_PREFIX}{role['name']}"
        clause = " AND ".join(f"{col} = '{val}'" for col, val in sorted(rls.items()))
        body = {
            "name": name,
            "description": role.get("description", ""),
            "filter_type": "Regular",
            "tables": sorted(wanted_ds.values()),
            "roles": [role_ids[role["name"]]],
            "group_key": "civiclake_" + "_".join(sorted(rls)),
            "clause": clause,
        }
        if name in existing:
            rule_id = existing[name]["id"]
            client.request("PUT", f"/api/v1/rowlevelsecurity/{rule_id}", json=body)
        else:
            rule_id = client.request("POST", "/api/v1/rowlevelsecurity/", json=body)["id"]
        rls_ids[name] = rule_id
    # rules this importer made earlier for roles no longer listed: remove them
    for name, rule in existing.items():
        if name not in rls_ids:
            client.request("DELETE", f"/api/v1/rowlevelsecurity/{rule['id']}")
    return role_ids, rls_ids


# --------------------------------------------------------------------------- main
def run_import(
    url: str | None = None,
    marts_file: str | os.PathLike | None = None,
    username: str | None = None,
    password: str | None = None,
    assets_dir: Path = ASSETS_DIR,
    access_file: Path = ACCESS_FILE,
) -> ImportResult:
    url = url or os.environ.get("SUPERSET_URL") or DEFAULT_URL
    marts = resolve_marts_file(marts_file)
    if not marts.is_file():
        raise AssetImportError(
            f"marts file {marts} not found: build it with the pipeline, or point "
            "CIVICLAKE_MARTS_FILE / --marts-file at an existing DuckDB file"
        )
    assets = load_assets(assets_dir)
    access = load_access(access_file)
    bundle = build_bundle(assets, duckdb_uri(marts))

    client = SupersetClient(
        url,
        username or os.environ.get("SUPERSET_ADMIN_USER", "admin"),
        password or read_secret("SUPERSET_ADMIN_PASSWORD"),
    )
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
    result.role_ids, result.rls_ids = apply_access(client, access, result.dataset_ids)
    return result


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
    except AssetImportError as exc:
        print(f"[dashboards] import failed: {exc}", file=sys.stderr)
        return 1
    print(f"[dashboards] imported into {res.url} (marts: {res.marts_file})")
    print(f"[dashboards]   datasets {res.dataset_ids}")
    print(
        f"[dashboards]   charts {sorted(res.chart_ids.values())}, "
        f"dashboards {sorted(res.dashboard_ids.values())}"
    )
    print(f"[dashboards]   roles {sorted(res.role_ids)}; RLS rules {len(res.rls_ids)}")
    for dash_id in res.dashboard_ids.values():
        print(f"[dashboards]   {res.url}/superset/dashboard/{dash_id}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
