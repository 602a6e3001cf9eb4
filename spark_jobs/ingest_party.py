"""Party building (党建): the day's exported files → Delta bronze → validated MERGE into silver.

Reads ``<data_dir>/landing/party/<D>/`` (organisation and member registers as Excel, the
street offices' activity and sign-in exports in GBK, learning records, volunteer hours)
and loads every export declared in ``civiclake.contracts.party`` through the shared file
loader (``civiclake.ingest.delta``): PII tokenised before bronze, bad rows to
``<table>_quarantine`` with a reason, reconciliation per table, a manifest of the files.
"""

from __future__ import annotations

import logging
from datetime import date

from civiclake.contracts import party
from civiclake.ingest.delta import BatchResult, load_batch
from civiclake.settings import Settings

log = logging.getLogger(__name__)

SOURCE = party.FAMILY
TABLES = tuple(c.table for c in party.CONTRACTS)


def run(spark, settings: Settings, logical_date: date) -> BatchResult:
    result = load_batch(spark, settings, SOURCE, party.CONTRACTS, logical_date)
    log.info("ingest party %s: %s", logical_date, [t.summary() for t in result.tables])
    return result


def main(logical_date: str) -> BatchResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_party_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))
