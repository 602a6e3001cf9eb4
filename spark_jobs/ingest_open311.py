"""Open311 GeoReport v2 requests: API → Delta bronze (page by page) → validated MERGE into silver.

For a logical date D and a jurisdiction J (its box and time zone from
:mod:`civiclake.jurisdiction`), the job

1. reads the window ``[previous complete batch's end, D+1 00:00 in J's time zone)`` of
   ``updated_datetime`` from the API, page by page, appending each page to bronze
   ``open311_requests`` (partition ``batch_date = D``, rows tagged with J, the page URL, the
   page number, the batch id and the time of extraction) and then recording the page in
   the state table ``page_progress``. If the server gives up in the middle, the run fails
   with an error naming the URL and page; the next run of D resumes at that page. Once a
   batch is complete, a rerun of D does not call the API again: it reprocesses bronze;
2. checks every row, sending failures to ``open311_requests_quarantine`` with a reason
   (first that applies): missing service_request_id, unparseable requested/updated/closed/
   expected datetime, unknown status, unknown service_code (not in the batch's
   services.json), missing or unparseable coordinates, coordinates outside the
   jurisdiction, timestamp in the future (at or after the window end);
3. keeps the newest version of each (jurisdiction, service_request_id) — other versions in
   the batch, and versions silver already holds from an earlier batch, are counted as
   duplicates — and MERGEs it into silver, never replacing a row by an older version;
4. stores the reconciliation ``source = silver + quarantine + duplicates`` under
   ``open311_requests:<jurisdiction>``, silver as the MERGE's Delta commit landed it.

Times. Bronze keeps the original strings exactly as the server sent them. Silver stores
instants (``requested_at``, ``updated_at``, ``closed_at``, ``expected_at`` are Spark
timestamps, which Delta keeps in UTC), so requests of different jurisdictions, and the two
sides of a daylight-saving change, compare correctly; the jurisdiction's own calendar is
kept next to them in ``timezone`` and ``requested_date_local`` (the day of the request on
local clocks, what daily marts group by). A datetime without a UTC offset is ambiguous and
is quarantined as unparseable rather than guessed.

Rows without coordinates are quarantined ("missing coordinates"): GeoReport allows
address-only requests, but the platform's measures are by area, which needs a point.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from civiclake.contracts.open311 import FAMILY, REQUESTS
from civiclake.ingest.quarantine import good_rows, outside, quarantine, with_reason
from civiclake.ingest.results import ApiPages, IngestResult, SourceWindow, TableResult, record_batch
from civiclake.jurisdiction import Jurisdiction, load_jurisdiction
from civiclake.lake.runs import page_high_watermark, page_progress, save_page_progress
from civiclake.lake.writes import delete_where, merge_upsert
from civiclake.pii import scrub_text
from civiclake.settings import Settings
from civiclake.sources.open311 import (
    DEFAULT_PAGE_SIZE,
    Open311Client,
    Open311Error,
    Page,
    Progress,
    extract_pages,
    window_query,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8311"
BRONZE = REQUESTS.table
SERVICES_BRONZE = "open311_services"
SILVER = REQUESTS.table
# The GeoReport fields of a request, kept in bronze as the server sent them.
FIELDS = REQUESTS.source_columns
STATUSES = REQUESTS.field("status").accepted
# W3C datetimes as GeoReport writes them: seconds, optional fraction, an offset or Z.
W3C_PATTERN = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"
OUTSIDE = "coordinates outside the jurisdiction"


def source_key(jurisdiction: str) -> str:
    return f"open311:{jurisdiction}"


def _bronze_schema():
    from pyspark.sql import types as T

    fields = [T.StructField("jurisdiction", T.StringType(), False)]
    fields += [T.StructField(name, T.StringType(), True) for name in FIELDS]
    fields += [
        T.StructField("_raw", T.StringType(), True),
        T.StructField("_source_url", T.StringType(), False),
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField("_page", T.IntegerType(), False),
        T.StructField("_row", T.IntegerType(), False),
        T.StructField("_extracted_at", T.TimestampType(), False),
        T.StructField("batch_date", T.DateType(), False),
    ]
    return T.StructType(fields)


def _text(value) -> str | None:
    """A received value as text: strings as they are, numbers and the rest as their JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# Free text residents and agents write: phone and ID numbers in it become tokens before
# anything is written (the row's own columns and its raw JSON alike).
FREE_TEXT_FIELDS = REQUESTS.free_text


def _scrubbed(record, key: bytes):
    if not isinstance(record, dict):
        return record
    return {
        name: scrub_text(value, key) if name in FREE_TEXT_FIELDS and isinstance(value, str) else value
        for name, value in record.items()
    }


def _bronze_rows(
    page: Page, jurisdiction: str, batch_id: str, batch_date: date, extracted_at: datetime, key: bytes
):
    rows = []
    for n, received in enumerate(page.records):
        record = _scrubbed(received, key)
        values = record if isinstance(record, dict) else {}
        rows.append(
            (
                jurisdiction,
                *(_text(values.get(name)) for name in FIELDS),
                json.dumps(record, ensure_ascii=False, sort_keys=True),
                page.url,
                batch_id,
                page.number,
                n,
                extracted_at,
                batch_date,
            )
        )
    return rows


class BronzeSink:
    """Each page into bronze (replacing that page if a crashed run wrote it), then its progress."""

    def __init__(self, spark, settings: Settings, j: Jurisdiction, batch_date: date, progress: dict):
        self.spark, self.settings, self.j, self.batch_date = spark, settings, j, batch_date
        self.state = dict(progress)
        self.path = settings.table_path("bronze", BRONZE)

    def progress(self) -> Progress:
        return Progress(self.state["pages_done"], self.state["complete"])

    def save(self, page: Page, last: bool) -> None:
        # Extraction time is bronze metadata only; no decision depends on it.
        extracted_at = datetime.now(UTC)
        rows = _bronze_rows(
            page,
            self.j.code,
            self.state["batch_id"],
            self.batch_date,
            extracted_at,
            self.settings.require_pii_key(),
        )
        (
            self.spark.createDataFrame(rows, _bronze_schema())
            .write.format("delta")
            .mode("overwrite")
            .partitionBy("batch_date")
            .option(
                "replaceWhere",
                f"jurisdiction = '{self.j.code}' and batch_date = '{self.batch_date}' and _page = {page.number}",
            )
            .save(self.path)
        )
        self.state.update(
            pages_done=page.number, rows_fetched=self.state["rows_fetched"] + len(rows), complete=last
        )
        save_page_progress(
            self.spark,
            self.settings,
            source_key(self.j.code),
            self.batch_date,
            **{k: v for k, v in self.state.items() if k != "batch_id"},
        )


def _save_services(spark, settings: Settings, j: Jurisdiction, batch_date: date, client, services) -> None:
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("jurisdiction", T.StringType(), False),
            T.StructField("service_code", T.StringType(), True),
            T.StructField("service_name", T.StringType(), True),
            T.StructField("group", T.StringType(), True),
            T.StructField("_raw", T.StringType(), False),
            T.StructField("_source_url", T.StringType(), False),
            T.StructField("batch_date", T.DateType(), False),
        ]
    )
    url = client.url("/services.json")
    rows = [
        (
            j.code,
            _text(s.get("service_code")) if isinstance(s, dict) else None,
            _text(s.get("service_name")) if isinstance(s, dict) else None,
            _text(s.get("group")) if isinstance(s, dict) else None,
            json.dumps(s, ensure_ascii=False, sort_keys=True),
            url,
            batch_date,
        )
        for s in services
    ]
    (
        spark.createDataFrame(rows, schema)
        .write.format("delta")
        .mode("overwrite")
        .partitionBy("batch_date")
        .option("replaceWhere", f"jurisdiction = '{j.code}' and batch_date = '{batch_date}'")
        .save(settings.table_path("bronze", SERVICES_BRONZE))
    )


def _w3c(column: str):
    from pyspark.sql import functions as F

    return F.try_to_timestamp(F.col(column), F.lit(W3C_PATTERN))


def validate(spark, bronze_batch, service_codes, j: Jurisdiction, window_end: datetime):
    """Typed columns plus ``quarantine_reason`` (null when the row is good) for every bronze row."""
    from pyspark.sql import functions as F

    known = F.broadcast(service_codes.select(F.col("service_code").alias("_known_code")).distinct())
    typed = (
        bronze_batch.join(known, bronze_batch.service_code == known._known_code, "left")
        .withColumn("requested_at", _w3c("requested_datetime"))
        .withColumn("updated_at", _w3c("updated_datetime"))
        .withColumn("closed_at", _w3c("closed_datetime"))
        .withColumn("expected_at", _w3c("expected_datetime"))
        .withColumn("lat_value", F.col("lat").try_cast("double"))
        .withColumn("lon", F.col("long").try_cast("double"))
    )
    end = F.timestamp_micros(F.lit(int(window_end.timestamp() * 1_000_000)))

    def unparseable(raw: str, parsed: str):
        return F.col(raw).isNotNull() & F.col(parsed).isNull()

    checks = [
        (
            F.col("service_request_id").isNull() | (F.trim("service_request_id") == ""),
            "missing service_request_id",
        ),
        (F.col("requested_datetime").isNull(), "missing requested_datetime"),
        (unparseable("requested_datetime", "requested_at"), "unparseable requested_datetime"),
        (F.col("updated_datetime").isNull(), "missing updated_datetime"),
        (unparseable("updated_datetime", "updated_at"), "unparseable updated_datetime"),
        (unparseable("closed_datetime", "closed_at"), "unparseable closed_datetime"),
        (unparseable("expected_datetime", "expected_at"), "unparseable expected_datetime"),
        (~F.coalesce(F.col("status").isin(*STATUSES), F.lit(False)), "unknown status"),
        (F.col("_known_code").isNull(), "unknown service_code"),
        (F.col("lat").isNull() | F.col("long").isNull(), "missing coordinates"),
        (F.col("lat_value").isNull() | F.col("lon").isNull(), "unparseable coordinates"),
        (outside(j.box, lat="lat_value"), OUTSIDE),
        ((F.col("requested_at") >= end) | (F.col("updated_at") >= end), "timestamp in the future"),
    ]
    return with_reason(typed, checks)


def _silver_columns(spark, checked, j: Jurisdiction):
    from pyspark.sql import functions as F

    session_tz = spark.conf.get("spark.sql.session.timeZone")
    # Wall clock in the session's zone, moved to the jurisdiction's zone: its local calendar day.
    local = F.convert_timezone(
        F.lit(session_tz), F.lit(j.timezone), F.col("requested_at").cast("timestamp_ntz")
    )
    return (
        checked.withColumn("lat", F.col("lat_value"))
        .withColumn("timezone", F.lit(j.timezone))
        .withColumn("requested_date_local", F.to_date(local))
        .withColumn("source_url", F.col("_source_url"))
        .select(*REQUESTS.silver_columns())
    )


def _start_batch(spark, settings: Settings, j: Jurisdiction, logical_date: date, base_url: str) -> dict:
    """The progress of the batch: recorded (a rerun or a resume) or new, with its window."""
    key = source_key(j.code)
    recorded = page_progress(spark, settings, key, logical_date)
    batch_id = f"{key}:{logical_date}"
    if recorded is not None:
        if not recorded["complete"] and recorded["base_url"] != base_url:
            raise Open311Error(
                f"Open311 batch {logical_date} for {j.code} was started from {recorded['base_url']} "
                f"and stopped at page {recorded['pages_done'] + 1}; resume it with --base-url "
                f"{recorded['base_url']} (pages of two servers cannot be mixed in one batch)"
            )
        recorded.pop("source")
        recorded.pop("batch_date")
        return {**recorded, "batch_id": batch_id}
    window_end = datetime.combine(logical_date + timedelta(days=1), time(), ZoneInfo(j.timezone))
    state = {
        "base_url": base_url,
        "window_start": page_high_watermark(spark, settings, key, before=logical_date),
        "window_end": window_end.isoformat(timespec="seconds"),
        "pages_done": 0,
        "rows_fetched": 0,
        "complete": False,
    }
    # A batch starts from an empty bronze partition (only a lost state table leaves rows there).
    delete_where(
        spark,
        settings.table_path("bronze", BRONZE),
        f"jurisdiction = '{j.code}' and batch_date = '{logical_date}'",
    )
    save_page_progress(spark, settings, key, logical_date, **state)
    return {**state, "batch_id": batch_id}


def run(
    spark,
    settings: Settings,
    logical_date: date,
    base_url: str = DEFAULT_BASE_URL,
    jurisdiction: str | None = None,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    client: Open311Client | None = None,
) -> IngestResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    j = load_jurisdiction(jurisdiction or settings.jurisdiction)
    state = _start_batch(spark, settings, j, logical_date, base_url)
    window_end = datetime.fromisoformat(state["window_end"])
    window_start = datetime.fromisoformat(state["window_start"]) if state["window_start"] else None

    extracted, first_page, pages_fetched = False, None, 0
    if not state["complete"]:
        client = client or Open311Client(base_url)
        _save_services(spark, settings, j, logical_date, client, client.services())
        sink = BronzeSink(spark, settings, j, logical_date, state)
        outcome = extract_pages(client, window_query(window_start, window_end), sink, page_size)
        extracted, first_page, pages_fetched = True, outcome.first_page, outcome.pages_fetched
    else:
        log.info("Open311 batch %s for %s is complete; reprocessing it from bronze", logical_date, j.code)

    in_batch = (F.col("jurisdiction") == j.code) & (F.col("batch_date") == F.lit(logical_date))
    bronze_batch = spark.read.format("delta").load(settings.table_path("bronze", BRONZE)).where(in_batch)
    services = spark.read.format("delta").load(settings.table_path("bronze", SERVICES_BRONZE)).where(in_batch)
    checked = validate(spark, bronze_batch, services, j, window_end).cache()
    source_rows = checked.count()

    quarantined = quarantine(
        checked,
        settings,
        SILVER,
        logical_date,
        columns=[*bronze_batch.columns, "quarantine_reason"],
        where=f"jurisdiction = '{j.code}'",
    )

    newest_first = Window.partitionBy("jurisdiction", "service_request_id").orderBy(
        F.col("updated_at").desc(), F.col("_page").desc(), F.col("_row").desc()
    )
    versions = good_rows(checked).withColumn("_version_rank", F.row_number().over(newest_first))
    latest = _silver_columns(spark, versions.where("_version_rank = 1"), j)
    silver_path = settings.table_path("silver", SILVER)
    # A request a page repeats, or one silver holds from an earlier batch at the same version
    # (its page's URL aside) or newer, is a known duplicate.
    landed = merge_upsert(
        spark,
        latest,
        silver_path,
        ["jurisdiction", "service_request_id"],
        newer_than="updated_at",
        batch_date=logical_date,
        lineage=("source_url",),
    )
    silver = spark.read.format("delta").load(silver_path).where(F.col("jurisdiction") == j.code)
    result = TableResult(
        table=SILVER,
        batch_date=str(logical_date),
        extracted=extracted,
        source_rows=source_rows,
        silver_rows=landed.rows,
        quarantined_rows=quarantined.written,
        duplicate_rows=versions.where("_version_rank > 1").count() + landed.held,
        quarantine_reasons=quarantined.reasons(),
        silver_total=silver.count(),
        window=SourceWindow(state["window_start"], state["window_end"]),
        pages=ApiPages(state["base_url"], j.code, first_page, pages_fetched),
    )
    # Each jurisdiction's batch reconciles on its own.
    record_batch(spark, settings, result, f"{SILVER}:{j.code}")
    checked.unpersist()
    log.info("ingest open311 %s %s: %s", j.code, logical_date, result.summary())
    return IngestResult(FAMILY, str(logical_date), [result])


def main(
    logical_date: str, base_url: str = DEFAULT_BASE_URL, jurisdiction: str | None = None
) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_open311_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date), base_url, jurisdiction)
