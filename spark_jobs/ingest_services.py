"""People services (民生服务): the day's exported files → Delta bronze → validated MERGE into silver.

Reads ``<data_dir>/landing/services/<D>/`` (care visits as Excel, welfare coupons in GBK,
service requests in UTF-8) and loads every export declared in ``civiclake.contracts.services`` through the shared file
loader (``civiclake.ingest.delta``): PII tokenised before bronze, bad rows to
``<table>_quarantine`` with a reason, reconciliation per table, a manifest of the files.
"""

from __future__ import annotations

import logging
from datetime import date

from civiclake.contracts import services
from civiclake.ingest.delta import BatchResult, load_batch
from civiclake.settings import Settings

log = logging.getLogger(__name__)

SOURCE = services.FAMILY
TABLES = tuple(c.table for c in services.CONTRACTS)


def run(spark, settings: Settings, logical_date: date) -> BatchResult:
    result = load_batch(spark, settings, SOURCE, services.CONTRACTS, logical_date)
    log.info("ingest services %s: %s", logical_date, [t.summary() for t in result.tables])
    return result


def main(logical_date: str) -> BatchResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_services_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))
