"""The thin path through every component on real PostgreSQL, Spark + Delta and dbt/DuckDB.

Expected numbers come from the simulator's own plans and the source database, computed
independently of the jobs under test.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest

from civiclake import marts
from civiclake.contracts.catalog import silver_schema, silver_tables
from civiclake.geography import load_geography
from civiclake.marts_diff import compare
from civiclake.pii import personal_numbers_in
from civiclake.summary import run_summary
from quality.gate import QualityGateError, enforce
from quality.silver import gate
from quality.suites import GOVERNANCE_SUITES, governance_cases
from simulators.governance import (
    cases_reported_on,
    rows_changed_on,
    simulate_day,
    workers_changed_on,
)
from simulators.people import resident_pool
from spark_jobs import case_funnel, ingest_governance, score_cases, train_classifier
from tests.integration.lake_state import reconciliation_row

pytestmark = pytest.mark.integration

D = date(2026, 11, 24)
D1 = D + timedelta(days=1)
D2 = D + timedelta(days=2)


def silver_rows(spark, settings, table="governance_cases"):
    df = spark.read.format("delta").load(settings.table_path("silver", table))
    return sorted((tuple(r) for r in df.select(*sorted(df.columns)).collect()), key=repr)


def source_count(settings, where: str, params=(), table="governance.cases") -> int:
    with psycopg.connect(settings.pg_conninfo()) as conn:
        return conn.execute(f"select count(*) from {table} where {where}", params).fetchone()[0]


def lake_batch_missing(spark, settings, batch: date) -> bool:
    bronze = spark.read.format("delta").load(settings.table_path("bronze", "governance_cases"))
    return bronze.where(f"batch_date = '{batch}'").count() == 0


def reconciliation(spark, settings, batch: date, table="governance_cases"):
    return reconciliation_row(spark, settings, table, batch).asDict()


@pytest.fixture(scope="module")
def first_day(spark, settings):
    simulate_day(D, settings, history_days=settings.sim_history_days)
    result = ingest_governance.run(spark, settings, D)
    return result, silver_rows(spark, settings)


def test_initial_load_takes_every_source_row(spark, settings, first_day):
    run, rows = first_day
    result = run.table("governance_cases")
    in_source = source_count(settings, "updated_at < %s", (datetime(2026, 11, 25),))
    assert result.extracted and result.window.start is None
    assert result.source_rows == in_source == len(rows)
    assert result.quarantined_rows == 0 and result.duplicate_rows == 0
    # History days D-3..D plus the backlog a live system holds from the 30 days before.
    expected_cases = sum(len(cases_reported_on(D - timedelta(days=k), settings)) for k in range(4 + 30))
    assert len(rows) == expected_cases
    assert reconciliation(spark, settings, D) | {} == {
        "table_name": "governance_cases",
        "batch_date": D,
        "source_rows": in_source,
        "silver_rows": in_source,
        "quarantined_rows": 0,
        "duplicate_rows": 0,
    }
    workers = run.table("governance_grid_workers")
    assert workers.source_rows == workers.silver_rows == workers.silver_total == len(load_geography().grids)
    events = run.table("governance_case_events")
    events_in_source = source_count(
        settings, "recorded_at < %s", (datetime(2026, 11, 25),), table="governance.case_events"
    )
    assert events.source_rows == events.silver_rows == events_in_source
    # Every case's status in silver is the type of its latest event in the status history.
    latest = spark.sql(
        f"""select e.case_id, max_by(e.event_type, e.seq) as last_type
            from delta.`{settings.table_path("silver", "governance_case_events")}` e group by e.case_id"""
    )
    cases = spark.read.format("delta").load(settings.table_path("silver", "governance_cases"))
    mismatched = cases.join(latest, "case_id", "left").where("last_type is null or last_type != status")
    assert mismatched.count() == 0


def test_silver_schemas_of_the_contracts_match_the_ingest(settings, first_day):
    import pyarrow as pa
    from deltalake import DeltaTable

    for table in silver_tables("governance"):
        written = pa.schema(DeltaTable(settings.table_path("silver", table)).schema().to_arrow())
        assert written.equals(silver_schema(table)), (table, written)


def test_rerunning_the_same_date_changes_nothing(spark, settings, first_day):
    _, before = first_day
    in_source = source_count(settings, "true")
    simulate_day(D, settings, history_days=settings.sim_history_days)
    assert source_count(settings, "true") == in_source
    with psycopg.connect(settings.pg_conninfo()) as conn:
        ledger = [r[0] for r in conn.execute("select day from governance.simulated_days order by day")]
    assert ledger == [D - timedelta(days=k) for k in (3, 2, 1, 0)]
    bronze_before = spark.read.format("delta").load(settings.table_path("bronze", "governance_cases")).count()
    again = ingest_governance.run(spark, settings, D)
    assert not any(t.extracted for t in again.tables)
    assert silver_rows(spark, settings) == before
    bronze_after = spark.read.format("delta").load(settings.table_path("bronze", "governance_cases")).count()
    assert bronze_after == bronze_before


def test_next_day_is_extracted_incrementally(spark, settings, first_day):
    simulate_day(D1, settings)
    result = ingest_governance.run(spark, settings, D1).table("governance_cases")
    changed = list(rows_changed_on(D1, settings))
    # The window starts two hours (the lookback) before the previous batch's end; cases
    # last changed in those two hours come again and are counted as known duplicates.
    assert result.window.start == "2026-11-24 22:00:00"
    window = (datetime(2026, 11, 24, 22), datetime(2026, 11, 26))
    assert result.source_rows == source_count(settings, "updated_at >= %s and updated_at < %s", window)
    assert result.silver_rows == len(changed)
    assert result.duplicate_rows == result.source_rows - len(changed) > 0
    assert result.silver_total == source_count(settings, "true")
    # Cases closed on D1 show their new state in silver.
    closed_on_d1 = {row[0] for row in changed if row[15] == "closed"}
    statuses = {
        r.case_id: r.status
        for r in spark.read.format("delta").load(settings.table_path("silver", "governance_cases")).collect()
    }
    assert closed_on_d1 and all(statuses[c] == "closed" for c in closed_on_d1)


def test_bad_rows_are_quarantined_with_a_reason(spark, settings, first_day):
    good = list(rows_changed_on(D2, settings))
    simulate_day(D2, settings)
    bad_at = datetime(2026, 11, 26, 9, 30)
    with psycopg.connect(settings.pg_conninfo()) as conn:
        for case_id, community, lon, lat in (
            ("BAD-COMMUNITY", "440309999999", 114.0, 22.7),
            ("BAD-COORDS", "440309002001", 113.5, 22.7),
        ):
            conn.execute(
                "insert into governance.cases (case_id, channel, category, department, description,"
                " community_code, lon, lat, reported_at, status, updated_at) values"
                " (%s, 'hotline_12345', 'noise', '生态环境局', '楼下太吵', %s, %s, %s, %s, 'created', %s)",
                (case_id, community, lon, lat, bad_at, bad_at),
            )
    result = ingest_governance.run(spark, settings, D2).table("governance_cases")
    window = (datetime(2026, 11, 25, 22), datetime(2026, 11, 27))
    assert result.source_rows == source_count(settings, "updated_at >= %s and updated_at < %s", window)
    assert result.quarantined_rows == 2
    assert result.silver_rows == len(good)
    reasons = {
        r.case_id: r.quarantine_reason
        for r in spark.read.format("delta")
        .load(settings.table_path("silver", "governance_cases_quarantine"))
        .where(f"batch_date = '{D2}'")
        .collect()
    }
    assert reasons == {
        "BAD-COMMUNITY": "unknown community_code",
        "BAD-COORDS": "coordinates outside the district",
    }
    recon = reconciliation(spark, settings, D2)
    assert recon["source_rows"] == recon["silver_rows"] + recon["quarantined_rows"] + recon["duplicate_rows"]
    assert recon["silver_rows"] == len(good)


def test_a_row_committed_late_is_picked_up_by_the_lookback(spark, settings, first_day):
    D3 = D + timedelta(days=3)
    for day in (D1, D2):  # normally loaded by the tests above; alone, load them here
        if lake_batch_missing(spark, settings, day):
            simulate_day(day, settings)
            ingest_governance.run(spark, settings, day)
    # Committed after D2's batch had run, with an updated_at inside D2's window: only the
    # lookback overlap of the next window can see it.
    grid = load_geography().grids_of("440309002001")[0]
    late_at = datetime(2026, 11, 26, 23, 30)
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(
            "insert into governance.cases (case_id, channel, category, department, description,"
            " community_code, grid_code, lon, lat, reported_at, status, updated_at) values"
            " ('LATE-COMMIT', 'mini_program', 'garbage', '城市管理和综合执法局', '垃圾桶满了没人收',"
            " '440309002001', %s, %s, %s, %s, 'created', %s)",
            (grid.code, *grid.box.centroid, late_at, late_at),
        )
    simulate_day(D3, settings)
    result = ingest_governance.run(spark, settings, D3).table("governance_cases")
    assert result.silver_rows == len(list(rows_changed_on(D3, settings))) + 1
    late = (
        spark.read.format("delta")
        .load(settings.table_path("silver", "governance_cases"))
        .where("case_id = 'LATE-COMMIT'")
        .collect()
    )
    assert [(r.status, r.street_code, r.batch_date) for r in late] == [("created", "440309002", D3)]


def test_no_raw_personal_data_anywhere_in_the_lake(spark, settings, first_day):
    residents = resident_pool(settings.seed, 4000)
    secrets = {r.mobile for r in residents} | {r.id_number for r in residents} | {r.name for r in residents}
    workers = workers_changed_on(D, settings, backlog=True)
    secrets |= {w.worker_phone for w in workers} | {w.worker_name for w in workers}
    lake = settings.data_dir / "lake"
    files = list(lake.rglob("*"))
    parquet_files = [f for f in files if f.suffix == ".parquet"]
    assert parquet_files
    # Decoded values (Parquet pages are compressed, so a byte scan sees little): no value is
    # a resident's or worker's raw number or name, and no text holds a number in it.
    for path in parquet_files:
        table = pq.read_table(path)
        for column in table.column_names:
            if str(table.schema.field(column).type) not in ("string", "large_string"):
                continue
            values = set(table.column(column).drop_null().to_pylist())
            assert not values & secrets, f"raw personal data in {path}:{column}"
            written = {number for value in values for number in personal_numbers_in(value)}
            assert not written, f"numbers written in the text of {path}:{column}: {sorted(written)[:3]}"
    raw_bytes = [r.mobile.encode() for r in residents] + [r.id_number.encode() for r in residents]
    raw_bytes += [w.worker_phone.encode() for w in workers]
    for path in files:
        if path.is_file():
            content = path.read_bytes()
            assert not any(raw in content for raw in raw_bytes), f"raw phone/id bytes in {path}"


def test_quality_gate_passes_on_silver_and_fails_on_bad_data(spark, settings, first_day):
    reports = gate(settings, GOVERNANCE_SUITES)
    # cases, status history, roster, orders, weather warnings
    assert [r.success for r in reports] == [True, True, True, True, True]
    silver = spark.read.format("delta").load(settings.table_path("silver", "governance_cases")).toPandas()
    silver.loc[0, "community_code"] = "440309999999"
    silver["reporter_phone"] = "13800138000"
    with pytest.raises(QualityGateError) as failure:
        enforce(silver, governance_cases(), engine="pandas")
    message = str(failure.value)
    assert "community_code" in message and "expect_table_columns_to_match_set" in message


@pytest.fixture(scope="module")
def published(spark, settings, first_day):
    # Normally test_next_day_is_extracted_incrementally has loaded D1; alone, load it here.
    if (
        spark.read.format("delta")
        .load(settings.table_path("bronze", "governance_cases"))
        .where(f"batch_date = '{D1}'")
        .count()
        == 0
    ):
        simulate_day(D1, settings)
        ingest_governance.run(spark, settings, D1)
    card = train_classifier.run(spark, settings, D1)
    case_funnel.run(spark, settings, D1)
    scored = score_cases.run(spark, settings, D1)
    counts = marts.build(settings)
    return card, scored, counts


def test_classifier_scores_every_case_of_the_day(settings, published):
    card, scored, _ = published
    assert card.version == "v20261125"
    assert card.training_rows + card.validation_rows + card.test_rows == sum(
        len(cases_reported_on(D - timedelta(days=k), settings)) for k in range(4 + 30)
    )
    assert scored["scored"] == len(cases_reported_on(D1, settings))
    assert scored["auto"] + scored["review"] + scored["duplicate"] == scored["scored"]
    assert (settings.model_store / "case_classifier" / "v20261125" / "model.skops").exists()


def test_mart_counts_match_the_simulated_cases(settings, published):
    plans = cases_reported_on(D1, settings)
    geo = load_geography()
    by_street = Counter(geo.street_of(p.community_code) for p in plans)
    with duckdb.connect(str(settings.published_marts_file), read_only=True) as con:
        streets = dict(
            con.execute(
                "select area_code, cases_reported from mart_cases_by_level_daily "
                "where report_date = ? and level = 'street'",
                [D1],
            ).fetchall()
        )
        district = con.execute(
            "select cases_reported from mart_cases_by_level_daily where report_date = ? and level = 'district'",
            [D1],
        ).fetchall()
        communities = con.execute(
            "select count(*), sum(cases_auto_dispatched + cases_for_review) from mart_cases_by_community_daily "
            "where report_date = ?",
            [D1],
        ).fetchall()[0]
    assert streets == {code: by_street.get(code, 0) for code in geo.streets}
    assert district == [(len(plans),)]
    assert communities == (50, len(plans))
    summary = run_summary(settings, D1)
    assert {s["area_code"]: s["cases_reported"] for s in summary["streets"]} == streets
    assert summary["district"]["cases_reported"] == len(plans)


def test_rebuilding_the_marts_gives_the_same_marts(settings, published, tmp_path):
    before = tmp_path / "before.duckdb"
    shutil.copyfile(settings.published_marts_file, before)
    marts.build(settings)
    diffs = compare(before, settings.published_marts_file)
    assert {d.table.removeprefix("main.") for d in diffs} >= set(marts.REQUIRED_TABLES)
    assert [str(d) for d in diffs if not d.same] == []


def test_a_failed_build_leaves_the_published_marts(settings, published, tmp_path):
    before = settings.published_marts_file.read_bytes()
    broken = settings.model_copy(update={"lake_path": str(tmp_path / "no-lake")})
    broken.__dict__.pop("lake", None)  # cached_property of the original
    with pytest.raises(marts.MartsBuildError, match="left as they were"):
        marts.build(broken)
    assert settings.published_marts_file.read_bytes() == before
