"""A file-export family's day (party building, people services): files → Delta bronze →
validated MERGE into silver.

Reads ``<data_dir>/landing/<family>/<D>/`` (e.g. the party's organisation and member
registers as Excel and the street offices' exports in GBK; the care visits, welfare coupons
and service requests of people services) and loads every export the family's contracts
declare (``civiclake.contracts.<family>``) through the shared file loader
(``civiclake.ingest.delta``): PII tokenised before bronze, bad rows to ``<table>_quarantine``
with a reason, reconciliation per table, a manifest of the files.
"""

from __future__ import annotations

import logging
from datetime import date

from civiclake.contracts.base import ExportFiles
from civiclake.contracts.catalog import FAMILIES
from civiclake.ingest.delta import load_batch
from civiclake.ingest.results import IngestResult
from civiclake.settings import Settings

log = logging.getLogger(__name__)

# Families whose files need checks of their own have their own job: the position feed
# (spark_jobs/ingest_positions.py) checks every report against the registries of its day.
OWN_JOB_FAMILIES = ("positions",)
# The families whose every source is a file export, read by this job.
EXPORT_FAMILIES = tuple(
    family
    for family, contracts in FAMILIES.items()
    if family not in OWN_JOB_FAMILIES and all(isinstance(c.source, ExportFiles) for c in contracts)
)


def run(spark, settings: Settings, logical_date: date, family: str) -> IngestResult:
    if family not in EXPORT_FAMILIES:
        raise KeyError(f"{family!r} is not a file-export family; those are {', '.join(EXPORT_FAMILIES)}")
    result = load_batch(spark, settings, family, FAMILIES[family], logical_date)
    log.info("ingest %s %s: %s", family, logical_date, result.summary())
    return result


def main(logical_date: str, family: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_{family}_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date), family)
