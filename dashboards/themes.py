"""Superset themes of civiclake's dashboards (``dashboards/themes/*.yaml``).

Superset 6 keeps themes in its metadata and lets each dashboard name one
(``theme_id``); its asset bundle carries neither, so the importer makes them match
here through the REST API: a theme per file (found by its name, its JSON overwritten
when the file changed) and, for each dashboard whose YAML says
``civiclake_theme: <file stem>``, the dashboard pointed at it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from dashboards.superset_client import AssetImportError, SupersetClient

THEMES_DIR = Path(__file__).resolve().parent / "themes"
THEME_KEY = "civiclake_theme"


def load_themes(themes_dir: Path = THEMES_DIR) -> dict[str, dict[str, Any]]:
    """``{file stem: {"theme_name": ..., "json_data": {...}}}``."""
    themes = {}
    for f in sorted(themes_dir.glob("*.yaml")):
        theme = yaml.safe_load(f.read_text(encoding="utf-8"))
        if (
            not isinstance(theme, dict)
            or not theme.get("theme_name")
            or not isinstance(theme.get("json_data"), dict)
        ):
            raise AssetImportError(f"{f}: a theme needs theme_name and a json_data mapping")
        themes[f.stem] = theme
    return themes


def dashboard_themes(assets: dict[str, dict[str, Any]], themes: dict[str, dict[str, Any]]) -> dict[str, str]:
    """uuid of each dashboard naming a theme -> the theme's file stem."""
    wanted = {}
    for rel, asset in assets.items():
        if rel.startswith("dashboards/") and THEME_KEY in asset:
            if asset[THEME_KEY] not in themes:
                raise AssetImportError(
                    f"{rel}: {THEME_KEY} {asset[THEME_KEY]!r} is not a file of {THEMES_DIR} ({sorted(themes)})"
                )
            wanted[asset["uuid"]] = asset[THEME_KEY]
    return wanted


def apply_themes(
    client: SupersetClient,
    wanted: dict[str, str],
    themes: dict[str, dict[str, Any]],
    dashboard_ids: dict[str, int],
) -> dict[str, int]:
    """Create or update each theme a dashboard names and point the dashboards at them;
    returns theme file stem -> id."""
    existing = {
        r["theme_name"]: r for r in client.get_all("/api/v1/theme/", "columns:!(id,theme_name,json_data)")
    }
    ids: dict[str, int] = {}
    for stem in sorted(set(wanted.values())):
        theme = themes[stem]
        body = {
            "theme_name": theme["theme_name"],
            "json_data": json.dumps(theme["json_data"], ensure_ascii=False),
        }
        row = existing.get(theme["theme_name"])
        if row is None:
            ids[stem] = client.request("POST", "/api/v1/theme/", json=body)["id"]
        else:
            ids[stem] = row["id"]
            if json.loads(row.get("json_data") or "{}") != theme["json_data"]:
                client.request("PUT", f"/api/v1/theme/{row['id']}", json=body)
    for dashboard_uuid, stem in wanted.items():
        client.request(
            "PUT", f"/api/v1/dashboard/{dashboard_ids[dashboard_uuid]}", json={"theme_id": ids[stem]}
        )
    return ids
