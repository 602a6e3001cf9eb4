"""Incremental reads of an operational PostgreSQL table through Spark's JDBC source."""

from __future__ import annotations

from datetime import datetime

from civiclake.settings import Settings


def read_changed_rows(
    spark, settings: Settings, table: str, updated_column: str, start: datetime | None, end: datetime
):
    """Rows of ``table`` whose ``updated_column`` lies in [start, end) (no lower bound when
    ``start`` is None), as the source holds them."""
    where = f"{updated_column} < '{end:%Y-%m-%d %H:%M:%S}'"
    if start is not None:
        where += f" and {updated_column} >= '{start:%Y-%m-%d %H:%M:%S.%f}'"
    return (
        spark.read.format("jdbc")
        .option("url", settings.pg_jdbc_url())
        .option("driver", "org.postgresql.Driver")
        .option("user", settings.pg_user)
        .option("password", settings.pg_password.get_secret_value() if settings.pg_password else "")
        .option("query", f"select * from {table} where {where}")
        .option("fetchsize", "5000")
        .load()
    )
