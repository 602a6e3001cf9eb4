"""Positions (定位数据) of the public-service fleet: where vehicles and teams are.

The fleet-positioning platform (the vehicles' satellite terminals and the teams' handheld
terminals report to it) exports the reports it received in each hour as one UTF-8 CSV
file, ``landing/positions/<date>/<HH>.csv``: one row per report, the terminal's resource
id (the vehicle or team id of the basic-resource registries), the report's time on the
district's wall clock, the point (WGS-84 longitude and latitude), speed and heading.

Only registered public-service vehicles (``resources_vehicles``: sanitation, enforcement,
repair) and teams (``resources_teams``) report; the feed never carries people or private
vehicles. Silver keeps every report once, keyed by (resource_id, reported_at), with the
area the point lies in, looked up in the reference geography (silver's own columns: the
export has no area). Rows the checks reject (``civiclake.ingest.positions``) go to
``resource_positions_quarantine`` with their reason.
"""

from __future__ import annotations

from civiclake.contracts.base import ExportFiles, Field, SilverColumn, SourceContract

FAMILY = "positions"

# What a report's terminal belongs to: the registry that holds its id.
KINDS = {"车辆": "vehicle", "队伍": "team"}

POSITIONS = SourceContract(
    table="resource_positions",
    family=FAMILY,
    # One file per landing hour, named by the hour: 00.csv … 23.csv.
    source=ExportFiles("定位数据", "[0-2][0-9].csv", encoding="utf-8"),
    columns=(
        Field("resource_id", header="资源编号"),
        Field("resource_kind", header="资源类别", codes=KINDS),
        Field("reported_at", header="定位时间", type="timestamp"),
        Field("lon", header="经度", type="float"),
        Field("lat", header="纬度", type="float"),
        Field("speed_kmh", header="速度(km/h)", type="float", nullable=True),
        Field("heading_deg", header="方向(度)", type="float", nullable=True),
    ),
    key=("resource_id", "reported_at"),
    lon_field="lon",
    lat_field="lat",
    silver=(
        SilverColumn("resource_id"),
        SilverColumn("resource_kind"),
        SilverColumn("reported_at", "timestamp"),
        SilverColumn("lon", "float"),
        SilverColumn("lat", "float"),
        SilverColumn("speed_kmh", "float"),
        SilverColumn("heading_deg", "float"),
        # Where the point lies (reference geography), not the resource's registered area.
        SilverColumn("district_code"),
        SilverColumn("street_code"),
        SilverColumn("community_code"),
        SilverColumn("grid_code"),
    ),
)

CONTRACTS = (POSITIONS,)
