"""A source table's batch in bronze: extracted once, reprocessed from bronze on a rerun.

The batch of logical date D covers a window that ends at D+1 00:00. Its first run reads the
source (personal data already tokens), replaces bronze partition ``batch_date = D`` with the
rows and their batch metadata, and records the window in the state tables once the job has
counted the batch (``civiclake.lake.runs``). A rerun finds the window recorded and
reprocesses what bronze holds, as received, without reading the source again.

A database table is read by its watermark column (:func:`changed_rows_to_bronze`): the rows
changed in [high watermark of the earlier batches − ``extract_lookback_minutes``, D+1 00:00).
The lookback picks up a row committed late with an ``updated_at`` inside the previous window;
the ingest counts such a version as a known duplicate when an earlier batch already had it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from civiclake.contracts.base import SourceContract
from civiclake.ingest.results import SourceWindow
from civiclake.ingest.tokens import tokenise_columns
from civiclake.lake.runs import high_watermark, record_window, recorded_window
from civiclake.lake.writes import overwrite_partition
from civiclake.settings import Settings
from civiclake.sources.jdbc import read_changed_rows

log = logging.getLogger(__name__)


def window_end(logical_date: date) -> datetime:
    """The end of a batch's window: midnight after its day."""
    return datetime.combine(logical_date + timedelta(days=1), time())


@dataclass(frozen=True)
class Extraction:
    """What a first run read from the source."""

    window_start: datetime | None
    rows: object  # a DataFrame, personal data tokenised
    source: str  # where the rows come from, bronze's ``_source``
    metadata: dict = field(default_factory=dict)  # further batch columns of bronze: name → column


@dataclass(frozen=True)
class BronzeBatch:
    """A batch as bronze holds it, and how it got there."""

    source_table: str  # the name its window is recorded under
    bronze_path: str
    batch_date: date
    extracted: bool  # this run read the source (False: an earlier run did)
    window_start: datetime | None
    window_end: datetime

    @property
    def window(self) -> SourceWindow:
        return SourceWindow(str(self.window_start) if self.window_start else None, str(self.window_end))

    def rows(self, spark):
        """The batch's bronze partition."""
        from pyspark.sql import functions as F

        bronze = spark.read.format("delta").load(self.bronze_path)
        return bronze.where(F.col("batch_date") == F.lit(self.batch_date))

    def record_window(self, spark, settings: Settings, rows: int) -> None:
        """Records the window of a first run with the rows the job counted in the batch; from
        then on a rerun of the day reprocesses bronze."""
        if self.extracted:
            record_window(
                spark, settings, self.source_table, self.batch_date, self.window_start, self.window_end, rows
            )


def land_batch(
    spark,
    settings: Settings,
    source_table: str,
    bronze_table: str,
    logical_date: date,
    extract: Callable[[datetime], Extraction],
) -> BronzeBatch:
    """The batch of ``logical_date`` in bronze: ``extract(window_end)`` is called on the first
    run only."""
    from pyspark.sql import functions as F

    bronze_path = settings.table_path("bronze", bronze_table)
    end = window_end(logical_date)
    recorded = recorded_window(spark, settings, source_table, logical_date)
    if recorded is not None:
        log.info("%s batch %s was extracted before; reprocessing it from bronze", source_table, logical_date)
        return BronzeBatch(source_table, bronze_path, logical_date, False, recorded[0], end)
    extraction = extract(end)
    batch = extraction.rows.withColumn("_batch_id", F.lit(f"{source_table}:{logical_date}")).withColumn(
        "_source", F.lit(extraction.source)
    )
    for name, value in extraction.metadata.items():
        batch = batch.withColumn(name, value)
    batch = batch.withColumn("batch_date", F.lit(logical_date).cast("date"))
    overwrite_partition(batch, bronze_path, "batch_date", logical_date)
    return BronzeBatch(source_table, bronze_path, logical_date, True, extraction.window_start, end)


def changed_rows_to_bronze(
    spark, settings: Settings, contract: SourceContract, logical_date: date
) -> BronzeBatch:
    """The batch of a database table (``DatabaseTable`` source), extracted by its watermark
    with the lookback."""
    from pyspark.sql import functions as F

    source = contract.source

    def extract(end: datetime) -> Extraction:
        watermark = high_watermark(spark, settings, source.name, before=logical_date)
        lookback = timedelta(minutes=settings.extract_lookback_minutes)
        start = None if watermark is None else watermark - lookback
        raw = read_changed_rows(spark, settings, source.name, source.updated_column, start, end)
        return Extraction(
            start,
            tokenise_columns(raw, contract, settings.require_pii_key()),
            f"postgresql:{settings.pg_sources_db}.{source.name}",
            {"_window_end": F.lit(end).cast("timestamp")},
        )

    return land_batch(spark, settings, source.name, contract.table, logical_date, extract)
