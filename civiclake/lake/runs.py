"""What each run records in the lake's ``state`` tables: extraction windows (watermarks),
paged-API progress, the manifest of every file of a batch, and per-batch reconciliation.

Every state table is written the same two ways: rows MERGEd on their keys
(:func:`upsert_state`) or appended as a log (:func:`append_state`), and read through
:func:`state_rows`. Schemas are Spark DDL strings (``name type [not null], …``); rows are
tuples in their column order.
"""

from __future__ import annotations

from datetime import date, datetime

from civiclake.lake.writes import create_if_absent, delete_where, key_condition, table_exists
from civiclake.settings import Settings

WINDOWS_TABLE = "extract_windows"
WINDOWS_SCHEMA = (
    "source_table string not null, batch_date date not null, window_start timestamp, "
    "window_end timestamp not null, rows_extracted bigint not null"
)
RECONCILIATION_TABLE = "reconciliation"
RECONCILIATION_SCHEMA = (
    "table_name string not null, batch_date date not null, source_rows bigint not null, "
    "silver_rows bigint not null, quarantined_rows bigint not null, duplicate_rows bigint not null"
)
# File-export sources: a manifest of every file of a batch (loaded, empty or failed).
FILE_MANIFEST_TABLE = "file_manifest"
FILE_MANIFEST_SCHEMA = (
    "source string not null, table_name string not null, batch_date date not null, "
    "file_name string not null, status string not null, encoding string, rows bigint not null, "
    "new_columns string, notes string, error string"
)
# Paged API extraction progress (Open311 and other paged HTTP sources): an append-only log,
# one row each time a batch starts or keeps a page: the batch's window as W3C datetimes
# with their offset (a jurisdiction's midnight is not the Spark session's), the pages
# already kept in bronze and whether the last page was reached. The latest row of a batch
# is its progress; a batch that failed part-way resumes from it. Appending (rather than a
# MERGE per page) keeps the cost of a page to one small commit.
PAGE_PROGRESS_TABLE = "page_progress"
PAGE_PROGRESS_SCHEMA = (
    "source string not null, batch_date date not null, base_url string not null, "
    "window_start string, window_end string not null, pages_done bigint not null, "
    "rows_fetched bigint not null, complete boolean not null"
)


class ReconciliationError(RuntimeError):
    """A batch whose independently counted rows do not add up to its source rows."""


def state_path(settings: Settings, name: str) -> str:
    return settings.table_path("state", name)


def state_rows(spark, settings: Settings, table: str, where):
    """The rows of ``state.<table>`` matching ``where`` (a SQL condition or a Column), as a
    DataFrame; None before the table's first write."""
    path = state_path(settings, table)
    if not table_exists(spark, path):
        return None
    return spark.read.format("delta").load(path).where(where)


def upsert_state(
    spark, settings: Settings, table: str, schema: str, rows: list[tuple], keys: list[str]
) -> None:
    """MERGEs ``rows`` into ``state.<table>`` on ``keys`` (creating it on first use): a rerun
    replaces what the first run recorded.

    A plain MERGE: a run records a few state rows after each table it loads, and the
    bookkeeping of ``merge_upsert`` (the batch's key range, the commit's metrics read back
    from the table's history) would cost more queries than the rows' own commit.
    """
    from delta.tables import DeltaTable

    path = state_path(settings, table)
    df = spark.createDataFrame(rows, schema)
    create_if_absent(df, path)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), key_condition(keys))
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


def append_state(
    spark, settings: Settings, table: str, schema: str, rows: list[tuple], *, replacing: str | None = None
) -> None:
    """Appends ``rows`` to ``state.<table>`` (creating it on first use), after deleting the
    rows matching ``replacing`` where given."""
    path = state_path(settings, table)
    df = spark.createDataFrame(rows, schema)
    if replacing is not None:
        delete_where(spark, path, replacing)
    df.write.format("delta").mode("append").save(path)


# --- Extraction windows (watermarks of incremental extraction) ---


def recorded_window(spark, settings: Settings, source_table: str, batch_date: date):
    """The (start, end) extraction window recorded for a batch, or None on its first run."""
    where = f"source_table = '{source_table}' and batch_date = '{batch_date}'"
    rows = state_rows(spark, settings, WINDOWS_TABLE, where)
    if rows is None:
        return None
    found = rows.select("window_start", "window_end").collect()
    return (found[0].window_start, found[0].window_end) if found else None


def high_watermark(spark, settings: Settings, source_table: str, before: date) -> datetime | None:
    """End of the latest window extracted for an earlier batch (None when nothing was)."""
    where = f"source_table = '{source_table}' and batch_date < '{before}'"
    rows = state_rows(spark, settings, WINDOWS_TABLE, where)
    if rows is None:
        return None
    return rows.agg({"window_end": "max"}).collect()[0][0]


def record_window(
    spark,
    settings: Settings,
    source_table: str,
    batch_date: date,
    start: datetime | None,
    end: datetime,
    rows: int,
) -> None:
    row = (source_table, batch_date, start, end, rows)
    upsert_state(spark, settings, WINDOWS_TABLE, WINDOWS_SCHEMA, [row], ["source_table", "batch_date"])


# --- Reconciliation: source = silver + quarantine + duplicates, per batch ---


def record_reconciliation(
    spark,
    settings: Settings,
    table: str,
    batch_date: date,
    *,
    source_rows: int,
    silver_rows: int,
    quarantined: int,
    duplicates: int,
) -> None:
    """Stores ``source = silver + quarantine + duplicates`` for one batch, each term counted on
    its own: ``silver_rows`` as the Delta commit of the MERGE landed them, ``quarantined`` as
    written to quarantine, ``duplicates`` from the rows themselves. A batch that does not add
    up raises ``ReconciliationError`` and stores nothing."""
    accounted = silver_rows + quarantined + duplicates
    if source_rows != accounted:
        raise ReconciliationError(
            f"{table} batch {batch_date} does not reconcile: {source_rows} source rows, but "
            f"{silver_rows} landed in silver + {quarantined} quarantined + {duplicates} duplicates "
            f"= {accounted} ({source_rows - accounted:+d} rows unaccounted for). Silver keeps what "
            "the MERGE landed. Look for another writer on the silver table during the run, or "
            "rows the MERGE did not apply, then rerun the date."
        )
    row = (table, batch_date, source_rows, silver_rows, quarantined, duplicates)
    upsert_state(
        spark, settings, RECONCILIATION_TABLE, RECONCILIATION_SCHEMA, [row], ["table_name", "batch_date"]
    )


# --- File manifests ---


def record_file_manifest(spark, settings: Settings, source: str, batch_date: date, reads) -> None:
    """Replaces the manifest rows of (``source``, ``batch_date``) with one row per file read.

    ``reads`` are ``civiclake.ingest.files.FileRead`` objects; a failed file keeps its error,
    so a file that was not loaded is never silent.
    """
    rows = [
        (
            source,
            r.table,
            batch_date,
            r.file_name,
            r.status,
            r.encoding,
            len(r.rows),
            ", ".join(r.new_columns) or None,
            "; ".join(r.notes) or None,
            r.error,
        )
        for r in reads
    ]
    append_state(
        spark,
        settings,
        FILE_MANIFEST_TABLE,
        FILE_MANIFEST_SCHEMA,
        rows,
        replacing=f"source = '{source}' and batch_date = '{batch_date}'",
    )


# --- Paged API extraction progress ---


def page_progress(spark, settings: Settings, source: str, batch_date: date) -> dict | None:
    """The latest progress of one batch, as a dict, or None before its first run."""
    where = f"source = '{source}' and batch_date = '{batch_date}'"
    rows = state_rows(spark, settings, PAGE_PROGRESS_TABLE, where)
    if rows is None:
        return None
    latest = rows.orderBy(rows.pages_done.desc(), rows.complete.desc()).limit(1).collect()
    return latest[0].asDict() if latest else None


def save_page_progress(
    spark,
    settings: Settings,
    source: str,
    batch_date: date,
    *,
    base_url: str,
    window_start: str | None,
    window_end: str,
    pages_done: int,
    rows_fetched: int,
    complete: bool,
) -> None:
    row = (source, batch_date, base_url, window_start, window_end, pages_done, rows_fetched, complete)
    append_state(spark, settings, PAGE_PROGRESS_TABLE, PAGE_PROGRESS_SCHEMA, [row])


def page_high_watermark(spark, settings: Settings, source: str, before: date) -> str | None:
    """Window end of the latest complete batch before ``before`` (an incomplete one is not trusted)."""
    where = f"source = '{source}' and batch_date < '{before}' and complete"
    rows = state_rows(spark, settings, PAGE_PROGRESS_TABLE, where)
    if rows is None:
        return None
    latest = rows.orderBy(rows.batch_date.desc()).limit(1).collect()
    return latest[0].window_end if latest else None
