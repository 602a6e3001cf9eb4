"""Row checks in Spark and the quarantine they feed.

A job lists its checks as (condition, reason) pairs, most important first; a row's
``quarantine_reason`` is the first reason whose condition holds (a condition that is null
does not hold), null for a good row. The rows with a reason replace the batch's partition of
``<table>_quarantine``; the others go on to silver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

from civiclake.geography import Box
from civiclake.lake.writes import overwrite_partition
from civiclake.settings import Settings

REASON = "quarantine_reason"


def first_reason(checks: Sequence[tuple[object, str]]):
    """A column holding the reason of the first check whose condition holds, else null."""
    from pyspark.sql import functions as F

    reason = F.lit(None).cast("string")
    for condition, text in reversed(checks):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    return reason


def with_reason(rows, checks: Sequence[tuple[object, str]]):
    """``rows`` with their ``quarantine_reason``."""
    return rows.withColumn(REASON, first_reason(checks))


def outside(box: Box, lon: str = "lon", lat: str = "lat"):
    """The point lies outside the box (null when a coordinate is missing)."""
    from pyspark.sql import functions as F

    return (
        (F.col(lon) < box.min_lon)
        | (F.col(lon) > box.max_lon)
        | (F.col(lat) < box.min_lat)
        | (F.col(lat) > box.max_lat)
    )


def at_or_after(columns: Iterable[str], end):
    """One of the timestamp columns lies at or after ``end`` (a column expression)."""
    from pyspark.sql import functions as F

    return reduce(or_, [F.col(column) >= end for column in columns], F.lit(False))


def good_rows(checked):
    """The checked rows that have no reason: they go on to silver."""
    from pyspark.sql import functions as F

    return checked.where(F.col(REASON).isNull())


@dataclass(frozen=True)
class Quarantined:
    """The rows a batch quarantined: as its partition's commit wrote them, and by reason."""

    rows: object  # the quarantined rows (a DataFrame)
    written: int

    def reasons(self) -> dict[str, int]:
        counts = self.rows.groupBy(REASON).count().collect()
        return dict(sorted((r[REASON], r["count"]) for r in counts))


def quarantine(
    checked,
    settings: Settings,
    table: str,
    batch_date: date,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> Quarantined:
    """Replaces partition ``batch_date`` (narrowed by ``where``) of ``<table>_quarantine``
    with the checked rows that have a reason, keeping ``columns`` (default: all)."""
    from pyspark.sql import functions as F

    rows = checked.where(F.col(REASON).isNotNull())
    if columns is not None:
        rows = rows.select(*columns)
    written = overwrite_partition(
        rows, settings.table_path("silver", f"{table}_quarantine"), "batch_date", batch_date, where=where
    )
    return Quarantined(rows, written)
