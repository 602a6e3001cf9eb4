"""Quality gate on silver: every silver table against its expectation suite."""

from __future__ import annotations

from civiclake.settings import Settings
from quality.gate import QualityReport, enforce
from quality.suites import SUITES


def run(spark, settings: Settings) -> list[QualityReport]:
    reports = []
    for table, make_suite in SUITES.items():
        df = spark.read.format("delta").load(settings.table_path("silver", table))
        reports.append(enforce(df, make_suite()))
    return reports
