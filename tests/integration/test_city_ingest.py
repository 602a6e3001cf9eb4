"""City-management ingest on a small simulated day: reconciliation, unknown-owner covers,
rerun, and a late-committed row picked up by the extraction lookback.

Expected counts are read from the source database with plain SQL, independently of the job.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
import pytest

from civiclake.settings import Settings
from simulators.city import simulate_day
from simulators.people import resident_pool
from spark_jobs import ingest_city
from tests.integration.lake_state import assert_no_raw_values, reconciliation_row

pytestmark = pytest.mark.integration

D = date(2026, 10, 10)
D1 = D + timedelta(days=1)
LATE_AT = datetime(2026, 10, 10, 23, 0)  # inside the previous window, within the lookback


@pytest.fixture(scope="module")
def city(settings) -> Settings:
    return Settings(
        data_dir=settings.data_dir,
        jars_dir=settings.jars_dir,
        pg_sources_db=settings.pg_sources_db,
        sim_scale=0.004,
        sim_history_days=1,
        extract_lookback_minutes=120,
    )


def count(city: Settings, sql: str, params=()) -> int:
    with psycopg.connect(city.pg_conninfo()) as conn:
        return conn.execute(sql, params).fetchone()[0]


def silver(spark, city, table):
    df = spark.read.format("delta").load(city.table_path("silver", f"city_{table}"))
    rows = [tuple(r) for r in df.select(*sorted(df.columns)).collect()]
    return sorted(rows, key=lambda row: tuple(str(v) for v in row))


def recon(spark, city, table, day):
    return reconciliation_row(spark, city, f"city_{table}", day)


def by_table(result):
    """The job's table results by source table name (``cases`` for silver ``city_cases``)."""
    return {r.table.removeprefix("city_"): r for r in result.tables}


@pytest.fixture(scope="module")
def first_day(spark, city):
    simulate_day(D, city, history_days=city.sim_history_days)
    return by_table(ingest_city.run(spark, city, D))


def test_first_day_takes_every_source_row_and_reconciles(spark, city, first_day):
    end = datetime(2026, 10, 11)
    for table in ("cases", "manhole_covers", "repairs"):
        in_source = count(city, f"select count(*) from city.{table} where updated_at < %s", (end,))
        result = first_day[table]
        assert result.window.start is None and result.source_rows == in_source > 0
        assert (result.silver_rows, result.quarantined_rows, result.duplicate_rows) == (in_source, 0, 0)
        assert result.silver_total == in_source
        r = recon(spark, city, table, D)
        assert r.source_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows == in_source


def test_unknown_owner_covers_and_street_borne_repairs_reach_silver(spark, city, first_day):
    unknown = count(city, "select count(*) from city.manhole_covers where owner_department is null")
    covers = spark.read.format("delta").load(city.table_path("silver", "city_manhole_covers"))
    assert unknown > 0
    assert covers.where("not owner_known and owner_department is null").count() == unknown
    repairs = spark.read.format("delta").load(city.table_path("silver", "city_repairs"))
    unknown_owner_repairs = count(
        city,
        "select count(*) from city.repairs r join city.manhole_covers c using (asset_id) "
        "where c.owner_department is null and r.settlement_status <> 'pending'",
    )
    assert repairs.where("settlement_status = 'borne_by_street'").count() == unknown_owner_repairs


def test_silver_schemas_of_the_contracts_match_the_ingest(city, first_day):
    import pyarrow as pa
    from deltalake import DeltaTable

    from civiclake.contracts.catalog import silver_schema, silver_tables

    for table in silver_tables("city"):
        written = pa.schema(DeltaTable(city.table_path("silver", table)).schema().to_arrow())
        assert written.equals(silver_schema(table)), (table, written)


def test_rerun_of_the_same_day_is_identical(spark, city, first_day):
    before = {t: silver(spark, city, t) for t in ingest_city.TABLES}
    again = by_table(ingest_city.run(spark, city, D))
    assert all(not r.extracted for r in again.values())
    assert {t: (r.source_rows, r.silver_rows) for t, r in again.items()} == {
        t: (r.source_rows, r.silver_rows) for t, r in first_day.items()
    }
    assert {t: silver(spark, city, t) for t in ingest_city.TABLES} == before


def test_late_committed_row_is_picked_up_by_the_lookback(spark, city, first_day):
    resident = resident_pool(city.seed, 4000)[7]
    with psycopg.connect(city.pg_conninfo()) as conn:
        conn.execute(
            "insert into city.cases (case_id, category, source, description, community_code, grid_code,"
            " lon, lat, reporter_name, reporter_phone, reported_at, status, updated_at) values"
            " ('CM-LATE', 'garbage', 'citizen_12345', '垃圾暴露', '440309002001', '44030900200101',"
            " 113.965, 22.605, %s, %s, %s, 'reported', %s)",
            (resident.name, resident.mobile, LATE_AT, LATE_AT),
        )
    simulate_day(D1, city)
    results = by_table(ingest_city.run(spark, city, D1))
    window_start = datetime(2026, 10, 11) - timedelta(minutes=120)
    for table, result in results.items():
        assert result.window.start == str(window_start)
        in_window = count(
            city,
            f"select count(*) from city.{table} where updated_at >= %s and updated_at < %s",
            (window_start, datetime(2026, 10, 12)),
        )
        overlap = count(
            city,
            f"select count(*) from city.{table} where updated_at >= %s and updated_at < %s",
            (window_start, datetime(2026, 10, 11)),
        )
        late = 1 if table == "cases" else 0
        assert result.source_rows == in_window
        # Rows of the overlap received on D are known duplicates; the late row is new.
        assert result.duplicate_rows == overlap - late
        assert result.silver_rows == in_window - overlap + late
        assert result.quarantined_rows == 0
    late_row = (
        spark.read.format("delta")
        .load(city.table_path("silver", "city_cases"))
        .where("case_id = 'CM-LATE'")
        .collect()
    )
    assert len(late_row) == 1 and late_row[0].batch_date == D1
    assert late_row[0].reporter_phone_token.startswith("phone_")
    assert resident.mobile not in str(late_row[0].asDict())


def test_bad_city_rows_are_quarantined_with_a_reason(spark, city, first_day):
    day = D1 + timedelta(days=1)
    at = datetime(2026, 10, 12, 10, 0)
    with psycopg.connect(city.pg_conninfo()) as conn:
        conn.execute(
            "insert into city.manhole_covers (asset_id, cover_type, community_code, lon, lat, status,"
            " updated_at) values ('MH-BAD-COMMUNITY', 'sewage', '440309999999', 114.0, 22.7, 'normal', %s),"
            " ('MH-BAD-COORDS', 'sewage', '440309002001', 113.5, 22.7, 'normal', %s)",
            (at, at),
        )
        conn.execute(
            "insert into city.repairs (repair_id, case_id, asset_id, community_code, made_safe_at,"
            " repaired_at, cost_yuan, cost_bearer, settlement_status, updated_at) values"
            " ('RP-FUTURE', 'CM-X', 'MH0000001', '440309002001', %s, %s, 500, '民治街道办事处',"
            " 'pending', %s)",
            (at, datetime(2026, 10, 20), at),
        )
    simulate_day(day, city)
    results = by_table(ingest_city.run(spark, city, day))
    reasons = {}
    for table in ("manhole_covers", "repairs"):
        key = ingest_city.TABLES[table].key[0]
        rows = (
            spark.read.format("delta")
            .load(city.table_path("silver", f"city_{table}_quarantine"))
            .where(f"batch_date = '{day}'")
            .collect()
        )
        reasons |= {r[key]: r.quarantine_reason for r in rows}
        r = recon(spark, city, table, day)
        assert r.source_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows
    assert reasons == {
        "MH-BAD-COMMUNITY": "unknown community_code",
        "MH-BAD-COORDS": "coordinates outside the jurisdiction",
        "RP-FUTURE": "timestamp in the future",
    }
    assert results["manhole_covers"].quarantined_rows == 2 and results["repairs"].quarantined_rows == 1


def test_no_raw_personal_data_in_city_lake_files(city, first_day):
    with psycopg.connect(city.pg_conninfo()) as conn:
        values = conn.execute(
            "select reporter_name, reporter_phone from city.cases where reporter_phone is not null"
        ).fetchall()
    assert values
    assert_no_raw_values(
        city.data_dir / "lake", {phone for _, phone in values}, {name for name, _ in values}, only="city_"
    )
