"""The position feed through Spark: a tiny hand-written day against a registry with a
deregistered vehicle, every quarantine reason, reconciliation, a rerun, and the latest
position per resource as silver then holds it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from civiclake.geography import load_geography
from civiclake.ingest import positions as checks
from civiclake.settings import Settings

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 25)
HEADER = "资源编号,资源类别,定位时间,经度,纬度,速度(km/h),方向(度)"


def _point(name: str, east: float = 0.0) -> str:
    community = next(c for c in load_geography().communities.values() if c.name == name)
    lon, lat = community.box.centroid
    return f"{lon + east:.6f},{lat:.6f}"


@pytest.fixture(scope="module")
def lake(settings, tmp_path_factory) -> Settings:
    return Settings(**{**settings.model_dump(), "data_dir": tmp_path_factory.mktemp("positions")})


@pytest.fixture(scope="module")
def ingested(spark, lake):
    from spark_jobs import ingest_positions

    registry = [  # (id, valid_from, valid_to): VEH2 left the registry on the batch day
        ("VEH1", date(2026, 1, 1), None),
        ("VEH2", date(2026, 1, 1), DAY),
    ]
    spark.createDataFrame(registry, "vehicle_id string, valid_from date, valid_to date").write.format(
        "delta"
    ).save(lake.table_path("silver", "resources_vehicles"))
    spark.createDataFrame(
        [("TEAM1", date(2026, 1, 1), None)], "team_id string, valid_from date, valid_to date"
    ).write.format("delta").save(lake.table_path("silver", "resources_teams"))
    folder = lake.landing / "positions" / DAY.isoformat()
    folder.mkdir(parents=True)
    p = _point("松元厦社区")
    files = {
        "09.csv": [
            f"VEH1,车辆,2026-11-25 09:00:00,{p},20,90",
            f"VEH1,车辆,2026-11-25 09:00:00,{p},20,90",  # resent: a duplicate
            f"VEH1,车辆,2026-11-25 09:05:00,{_point('松元厦社区', 0.001)},20,90",
            f"TEAM1,队伍,2026-11-25 09:10:00,{p},1,",
            f"VEH2,车辆,2026-11-25 09:15:00,{p},0,",  # deregistered on the day
            "VEH1,车辆,2026-11-25 09:20:00,0,0,0,",  # no fix
            "VEH1,车辆,2026-11-25 09:25:00,113.80,22.50,0,",  # outside
            f"VEH1,车辆,2026-11-26 09:30:00,{p},0,",  # clock a day ahead
        ],
        "23.csv": [
            f"VEH1,车辆,2026-11-25 23:50:00,{_point('松元厦社区', 0.002)},15,90",
            f"VEH1,车辆,2026-11-25 23:50:00,{_point('松元厦社区', 0.003)},15,90",  # moved: quarantined
        ],
    }
    for name, lines in files.items():
        (folder / name).write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    first = ingest_positions.run(spark, lake, DAY)
    again = ingest_positions.run(spark, lake, DAY)  # the receipt is written: a rerun loads nothing new
    return first, again


def test_every_row_is_in_silver_quarantine_or_the_duplicates(spark, lake, ingested):
    from pyspark.sql import functions as F

    first, again = ingested
    (table,) = first.tables
    assert (table.source_rows, table.silver_rows, table.quarantined_rows, table.duplicate_rows) == (
        10,
        4,
        5,
        1,
    )
    assert table.quarantine_reasons == {
        checks.BAD_COORDINATES: 1,
        checks.CLOCK_OFF: 1,
        checks.DUPLICATE: 1,
        checks.OUTSIDE_DISTRICT: 1,
        checks.UNKNOWN_RESOURCE: 1,
    }
    recon = (
        spark.read.format("delta")
        .load(lake.table_path("state", "reconciliation"))
        .where((F.col("table_name") == "resource_positions") & (F.col("batch_date") == F.lit(DAY)))
        .collect()
    )
    assert len(recon) == 1
    quarantined = spark.read.format("delta").load(lake.table_path("silver", "resource_positions_quarantine"))
    reasons = sorted(r.quarantine_reason.split(":")[0] for r in quarantined.collect())
    assert reasons == sorted(table.quarantine_reasons)
    assert again.tables == [] or again.tables[0].silver_rows == 4
    assert spark.read.format("delta").load(lake.table_path("silver", "resource_positions")).count() == 4


def test_the_latest_position_per_resource_and_its_area(spark, lake, ingested):
    silver = spark.read.format("delta").load(lake.table_path("silver", "resource_positions"))
    latest = {}
    for row in silver.collect():
        if row.resource_id not in latest or row.reported_at > latest[row.resource_id].reported_at:
            latest[row.resource_id] = row
    community = next(c for c in load_geography().communities.values() if c.name == "松元厦社区")
    vehicle, team = latest["VEH1"], latest["TEAM1"]
    # VEH1's newest good report is 23:50 (the other 23:50 row was quarantined): 10 minutes
    # before the day's end, fresh; TEAM1's 09:10 is 890 minutes old, stale at 30.
    assert vehicle.reported_at.replace(tzinfo=None) == datetime(2026, 11, 25, 23, 50)
    assert f"{vehicle.lon:.6f}" == _point("松元厦社区", 0.002).split(",")[0]
    assert team.reported_at.replace(tzinfo=None) == datetime(2026, 11, 25, 9, 10)
    end = datetime(2026, 11, 26)
    ages = {
        rid: (end - r.reported_at.replace(tzinfo=None)).total_seconds() // 60 for rid, r in latest.items()
    }
    assert ages == {"VEH1": 10, "TEAM1": 890}
    assert (team.community_code, team.street_code) == (community.code, community.parent_code)
    assert set(latest) == {"VEH1", "TEAM1"}
