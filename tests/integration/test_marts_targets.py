"""Two targets from one dbt project: the same small lake built on the duckdb target and on
the spark target (dbt-spark, method: session, Delta sources by path) gives the same row
in every mart. The lake holds every source family (governance cases and the party,
services, registry and manhole tables of test_marts_families), so every mart has rows."""

from __future__ import annotations

import datetime
import json

import duckdb
import pytest
from deltalake import DeltaTable

from civiclake import marts
from civiclake.settings import PROJECT_ROOT, Settings
from tests.integration.test_marts_families import LAST, families_lake, families_marts  # noqa: F401

pytestmark = pytest.mark.integration


def _normalised(rows) -> list[tuple]:
    def value(v):
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, datetime.datetime):
            return v.replace(tzinfo=None)
        return v

    out = [tuple(value(v) for v in row) for row in rows]
    return sorted(out, key=lambda row: tuple((v is None, str(v)) for v in row))


def test_duckdb_and_spark_targets_build_the_same_marts(tmp_path, families_lake, families_marts):  # noqa: F811
    settings = Settings(
        data_dir=tmp_path, lake_path=str(families_lake), jars_dir=PROJECT_ROOT / "var" / "jars"
    )
    variables = json.dumps({"as_of": LAST.isoformat()})
    marts.run_dbt(settings, "seed", "--target", "spark")
    marts.run_dbt(settings, "run", "--target", "spark", "--vars", variables)
    warehouse = marts.spark_warehouse(settings)
    with duckdb.connect(str(families_marts.published_marts_file), read_only=True) as con:
        for table in marts.REQUIRED_TABLES:
            cursor = con.execute(f"select * from {table}")
            columns = [d[0] for d in cursor.description]
            expected = _normalised(cursor.fetchall())
            spark_table = DeltaTable(str(warehouse / "main.db" / table)).to_pyarrow_table().select(columns)
            actual = _normalised(zip(*(spark_table.column(c).to_pylist() for c in columns), strict=True))
            assert len(actual) == len(expected) > 0, table
            assert actual == expected, table
