"""The quality gates of the daily run: silver tables read with delta-rs, checked with pandas.

A gate reads each table of its family straight from the Delta log (``deltalake``) into
pandas and runs the table's suite with Great Expectations' pandas engine. Silver tables
are small (thousands to a few hundred thousand rows); a Spark session would cost each
gate a JVM start and one Spark job per metric, several times the check itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import great_expectations as gx

from civiclake.lake.read import TableMissingError, read_table
from civiclake.settings import Settings
from quality.gate import QualityReport, validate

SuiteFactory = Callable[[], gx.ExpectationSuite]


class SilverTableMissingError(RuntimeError):
    """A gate's table is not in the lake (its family was never ingested there)."""


def read_silver(settings: Settings, table: str, filters: list[tuple] | None = None):
    """``silver.<table>`` as a pandas DataFrame (optionally only rows matching ``filters``,
    in delta-rs' ``[(column, op, value)]`` form)."""
    try:
        return read_table(settings, "silver", table, filters=filters).to_pandas()
    except TableMissingError as missing:
        raise SilverTableMissingError(f"{missing}: ingest its source family first") from None


def gate(
    settings: Settings, suites: Mapping[str, SuiteFactory], filters: list[tuple] | None = None
) -> list[QualityReport]:
    """One report per table of ``suites`` (every table is checked, even after a failure)."""
    return [
        validate(read_silver(settings, table, filters), make_suite(), engine="pandas")
        for table, make_suite in suites.items()
    ]
