"""Open311 through the real path: uvicorn on 127.0.0.1 → connector → Spark → Delta bronze/silver.

Expected values come from the NYC 311 CSV files read with pandas, and from the Longhua
server's own answer checked here with plain Python, not from the job under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import requests

from civiclake.catalogue import CATEGORY_CODES
from civiclake.contracts.catalog import silver_schema
from civiclake.jurisdiction import load_jurisdiction
from civiclake.sources.open311 import Open311Client, Open311PageError
from quality.gate import validate
from quality.suites import open311_requests
from simulators import nyc311
from simulators.open311_server import Fault, LonghuaDataset, Nyc311Dataset, create_app, serve_in_thread
from spark_jobs import ingest_open311

pytestmark = pytest.mark.integration

NYC_DIR = nyc311.DEFAULT_NYC311_DIR
D = date(2026, 11, 25)
D_NEXT = date(2026, 11, 26)
NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
FMT = "%m/%d/%Y %I:%M:%S %p"
OUTSIDE = "coordinates outside the jurisdiction"

if not NYC_DIR.is_dir():
    pytest.skip(
        f"the NYC 311 sample folder {NYC_DIR} is absent (../shared/data/nyc311)", allow_module_level=True
    )


def client(url: str) -> Open311Client:
    return Open311Client(url, timeout=(5, 30), attempts=2, backoff_s=0.01)


def table(spark, settings, layer: str, name: str, jurisdiction: str):
    df = spark.read.format("delta").load(settings.table_path(layer, name))
    return df.where(df.jurisdiction == jurisdiction)


def snapshot(df) -> list[tuple]:
    return sorted((tuple(r) for r in df.select(*sorted(df.columns)).collect()), key=repr)


def reconciliation(spark, settings, name: str, batch: date) -> dict:
    df = spark.read.format("delta").load(settings.table_path("state", "reconciliation"))
    (row,) = df.where((df.table_name == name) & (df.batch_date == batch)).collect()
    return {k: v for k, v in row.asDict().items() if k.endswith("_rows")}


def epoch(text: str) -> int | None:
    """NYC local time text → microseconds since the epoch (the instant it names)."""
    if not text:
        return None
    return int(datetime.strptime(text, FMT).replace(tzinfo=NY).timestamp() * 1_000_000)


@pytest.fixture(scope="module")
def nyc_csv() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(NYC_DIR.glob("*.csv"))]
    return pd.concat(frames, ignore_index=True)


def requests_of(result):
    """The result of the job's one table, ``open311_requests``."""
    (requests,) = result.tables
    return requests


@pytest.fixture(scope="module")
def runs(spark, settings):
    """Every run of the module, in order (later batches depend on earlier watermarks)."""
    out = {}
    # Page 2 of 3 fails twice: with two attempts the first run gives up there.
    app = create_app(Nyc311Dataset(NYC_DIR), faults=[Fault(page=2, times=2, status_code=502)])
    with serve_in_thread(app) as url:
        with pytest.raises(Open311PageError) as failure:
            ingest_open311.run(spark, settings, D, url, "nyc", page_size=500, client=client(url))
        out["failure"], out["url"] = failure.value, url
        out["resumed"] = requests_of(
            ingest_open311.run(spark, settings, D, url, "nyc", page_size=500, client=client(url))
        )
        out["silver_after_first"] = snapshot(table(spark, settings, "silver", "open311_requests", "nyc"))
        out["rerun"] = requests_of(
            ingest_open311.run(spark, settings, D, url, "nyc", page_size=500, client=client(url))
        )
        out["silver_after_rerun"] = snapshot(table(spark, settings, "silver", "open311_requests", "nyc"))
        # The same NYC rows, checked against Longhua's box.
        out["as_longhua"] = requests_of(
            ingest_open311.run(spark, settings, D, url, "longhua", page_size=1000, client=client(url))
        )
        out["nyc_calls"] = list(app.state.calls)

    # The simulated Longhua channel, next day: its window starts where D's ended.
    dataset = LonghuaDataset(D_NEXT, D_NEXT, seed=settings.seed, per_day=60, defect_rate=0.15)
    longhua_app = create_app(dataset)
    with serve_in_thread(longhua_app) as url:
        out["longhua"] = requests_of(
            ingest_open311.run(spark, settings, D_NEXT, url, "longhua", client=client(url))
        )
        out["longhua_calls"] = list(longhua_app.state.calls)
        out["longhua_answer"] = requests.get(
            f"{url}/open311/v2/requests.json",
            params=out["longhua_calls"][0]["params"] | {"page_size": 1000},
            timeout=30,
        ).json()
    return out


def test_failure_mid_paging_is_clear_and_the_rerun_resumes_at_that_page(spark, settings, runs, nyc_csv):
    failure, url = runs["failure"], runs["url"]
    assert failure.page == 2 and "page=2" in failure.url and failure.url.startswith(url)
    assert "HTTP 502" in str(failure) and "resumes at page 2" in str(failure)
    resumed = runs["resumed"]
    assert resumed.extracted and resumed.pages.first_page == 2 and resumed.pages.fetched == 2
    nyc_pages = [c["page"] for c in runs["nyc_calls"] if c["params"].get("page_size") == "500"]
    assert nyc_pages == [1, 2, 2, 2, 3]  # page 1 once; page 2 failed twice, then read on resume
    bronze = table(spark, settings, "bronze", "open311_requests", "nyc").where(f"batch_date = '{D}'")
    per_page = Counter(r["_page"] for r in bronze.select("_page").collect())
    assert per_page == {1: 500, 2: 500, 3: len(nyc_csv) - 1000}
    ids = [r[0] for r in bronze.select("service_request_id").collect()]
    assert len(ids) == len(set(ids)) and set(ids) == set(nyc_csv["Unique Key"])


def test_silver_schema_of_the_contract_matches_the_ingest(settings, runs):
    import pyarrow as pa
    from deltalake import DeltaTable

    written = pa.schema(DeltaTable(settings.table_path("silver", "open311_requests")).schema().to_arrow())
    assert written.equals(silver_schema("open311_requests")), written


def test_nyc_sample_lands_in_silver_with_categories_times_and_locations_intact(
    spark, settings, runs, nyc_csv
):
    located = nyc_csv[(nyc_csv["Latitude"] != "") & (nyc_csv["Longitude"] != "")]
    unlocated = nyc_csv.drop(located.index)
    silver = table(spark, settings, "silver", "open311_requests", "nyc")
    got = {
        r["service_request_id"]: r
        for r in silver.selectExpr(
            "service_request_id",
            "service_name",
            "agency_responsible",
            "status",
            "lat",
            "lon",
            "unix_micros(requested_at) as requested",
            "unix_micros(closed_at) as closed",
            "requested_date_local",
            "timezone",
        ).collect()
    }
    assert set(got) == set(located["Unique Key"])
    for row in located.itertuples(index=False):
        r = got[row[0]]
        values = dict(zip(located.columns, row, strict=True))
        assert r["service_name"] == values["Complaint Type"]
        assert r["agency_responsible"] == values["Agency"]
        assert r["status"] == ("closed" if values["Status"] == "Closed" else "open")
        assert (r["lat"], r["lon"]) == (float(values["Latitude"]), float(values["Longitude"]))
        assert r["requested"] == epoch(values["Created Date"])
        assert r["closed"] == epoch(values["Closed Date"])
        assert r["requested_date_local"] == datetime.strptime(values["Created Date"], FMT).date()
        assert r["timezone"] == "America/New_York"

    quarantine = table(spark, settings, "silver", "open311_requests_quarantine", "nyc")
    reasons = {r["service_request_id"]: r["quarantine_reason"] for r in quarantine.collect()}
    assert reasons == dict.fromkeys(unlocated["Unique Key"], "missing coordinates")
    assert reconciliation(spark, settings, "open311_requests:nyc", D) == {
        "source_rows": len(nyc_csv),
        "silver_rows": len(located),
        "quarantined_rows": len(unlocated),
        "duplicate_rows": 0,
    }
    assert runs["resumed"].quarantine_reasons == {"missing coordinates": len(unlocated)}


def test_rerun_of_the_same_date_leaves_silver_identical(runs):
    rerun = runs["rerun"]
    assert not rerun.extracted and rerun.pages.fetched == 0
    assert runs["silver_after_rerun"] == runs["silver_after_first"]
    assert (rerun.source_rows, rerun.silver_rows, rerun.quarantined_rows) == (
        runs["resumed"].source_rows,
        runs["resumed"].silver_rows,
        runs["resumed"].quarantined_rows,
    )


def test_the_same_rows_checked_against_longhua_are_all_quarantined(spark, settings, runs, nyc_csv):
    located = set(nyc_csv.loc[(nyc_csv["Latitude"] != "") & (nyc_csv["Longitude"] != ""), "Unique Key"])
    result = runs["as_longhua"]
    assert result.silver_rows == 0 and result.source_rows == len(nyc_csv)
    quarantine = table(spark, settings, "silver", "open311_requests_quarantine", "longhua").where(
        f"batch_date = '{D}'"
    )
    reasons = {r["service_request_id"]: r["quarantine_reason"] for r in quarantine.collect()}
    assert {k for k, v in reasons.items() if v == OUTSIDE} == located
    assert set(reasons) == set(nyc_csv["Unique Key"])
    assert reconciliation(spark, settings, "open311_requests:longhua", D) == {
        "source_rows": len(nyc_csv),
        "silver_rows": 0,
        "quarantined_rows": len(nyc_csv),
        "duplicate_rows": 0,
    }


def _expected_reason(record: dict, window_end: datetime) -> str | None:
    box = load_jurisdiction("longhua").box
    try:
        requested = datetime.fromisoformat(record["requested_datetime"])
    except ValueError:
        requested = None
    if not record["service_request_id"]:
        return "missing service_request_id"
    if requested is None or requested.tzinfo is None:
        return "unparseable requested_datetime"
    if record["service_code"] not in CATEGORY_CODES:
        return "unknown service_code"
    if not (box.min_lon <= record["long"] <= box.max_lon and box.min_lat <= record["lat"] <= box.max_lat):
        return OUTSIDE
    if requested >= window_end:
        return "timestamp in the future"
    return None


def test_simulated_longhua_defects_are_quarantined_with_their_reasons(spark, settings, runs):
    result, answer = runs["longhua"], runs["longhua_answer"]
    window_end = datetime(2026, 11, 27, tzinfo=SH)
    # The watermark: the batch asks for what changed since the end of D's Longhua batch.
    assert runs["longhua_calls"][0]["params"]["updated_after"] == "2026-11-26T00:00:00+08:00"
    assert result.window.start == "2026-11-26T00:00:00+08:00"
    reasons = Counter(_expected_reason(r, window_end) for r in answer)
    good_ids = [r["service_request_id"] for r in answer if _expected_reason(r, window_end) is None]
    assert len(reasons) >= 4  # the seeded defects are there to be caught
    assert result.quarantine_reasons == {k: v for k, v in reasons.items() if k is not None}
    assert result.source_rows == len(answer)
    assert result.duplicate_rows == len(good_ids) - len(set(good_ids)) > 0
    assert result.silver_rows == len(set(good_ids))
    silver = table(spark, settings, "silver", "open311_requests", "longhua")
    assert {r[0] for r in silver.select("service_request_id").collect()} == set(good_ids)


def test_quality_suite_passes_on_nyc_silver_and_catches_rows_of_another_place(spark, settings, runs):
    nyc = table(spark, settings, "silver", "open311_requests", "nyc").toPandas()
    assert validate(nyc, open311_requests("nyc"), engine="pandas").success
    wrong = validate(nyc, open311_requests("longhua"), engine="pandas")
    failed = " ".join(wrong.failures)
    assert not wrong.success
    for column in ("jurisdiction", "timezone", "'lon'", "'lat'"):
        assert column in failed
