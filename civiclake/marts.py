"""Write-audit-publish of the DuckDB marts.

dbt builds and tests the marts in a build file (``marts/build/civiclake.duckdb``), which
starts as a copy of the published file so incremental models continue from it. Only when
``dbt build`` (models, unit tests and data tests) succeeds is the build file moved over the published one
with an atomic rename: readers see the old file or the new one, never a half-built one,
and a failed build leaves the previous file published.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from civiclake.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
REQUIRED_TABLES = (
    "mart_cases_by_community_daily",
    "mart_cases_by_level_daily",
    "mart_cases_by_category_daily",
    "mart_case_measures_daily",
    "mart_case_volume_daily",
    "mart_sla_daily",
    "mart_scorecard_measures_daily",
    "mart_scorecard_daily",
    "mart_leader_brief_daily",
    "mart_party_building_daily",
    "mart_people_services_daily",
    "mart_resources_daily",
    "mart_resource_map",
    "mart_manhole_covers_daily",
    "mart_manhole_repair_costs",
)


class MartsBuildError(RuntimeError):
    pass


def build_file(settings: Settings) -> Path:
    return settings.marts / "build" / "civiclake.duckdb"


def spark_warehouse(settings: Settings) -> Path:
    """Where the spark target keeps its Delta tables and metastore."""
    return settings.data_dir / "dbt" / "spark-warehouse"


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Variables the dbt project reads (also used by the Airflow DAG's dbt tasks)."""
    return {
        "CIVICLAKE_LAKE_PATH": settings.lake,
        "CIVICLAKE_DBT_DUCKDB_PATH": str(build_file(settings)),
        "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
        "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs"),
        # The spark target (CIVICLAKE_DBT_TARGET=spark): Delta jars and its warehouse.
        "CIVICLAKE_SPARK_JARS": ",".join(str(p) for p in sorted(Path(settings.jars).glob("*.jar"))),
        "CIVICLAKE_DBT_SPARK_WAREHOUSE": str(spark_warehouse(settings)),
        "CIVICLAKE_SPARK_MASTER": settings.spark_master,
        "CIVICLAKE_SPARK_DRIVER_MEMORY": settings.spark_driver_memory,
    }


def _delta_uri(path: str) -> str:
    """delta-rs spells Hadoop's ``s3a://`` as ``s3://``."""
    return "s3://" + path.removeprefix("s3a://") if path.startswith("s3a://") else path


def create_absent_silver_tables(settings: Settings) -> list[str]:
    """Creates every optional silver table the marts read that the lake lacks, empty, with
    the schema the ingest writes (civiclake.silver_schemas): a source family not connected
    yet gives empty marts, not a failed build. Returns the tables created."""
    from deltalake import DeltaTable, write_deltalake

    from civiclake.silver_schemas import FAMILY_OF, SILVER_SCHEMAS

    created = []
    for table, schema in SILVER_SCHEMAS.items():
        uri = _delta_uri(settings.table_path("silver", table))
        if DeltaTable.is_deltatable(uri):
            continue
        write_deltalake(uri, schema.empty_table(), mode="error")
        log.info(
            "silver.%s is absent (source family %s not loaded yet): created it empty at %s",
            table,
            FAMILY_OF[table],
            uri,
        )
        created.append(table)
    return created


def prepare(settings: Settings) -> Path:
    create_absent_silver_tables(settings)
    target = build_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(target.name + "*"):
        stale.unlink()
    if settings.published_marts_file.exists():
        shutil.copy2(settings.published_marts_file, target)
    log.info("marts build file prepared at %s", target)
    return target


def run_dbt(settings: Settings, *args: str) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    env = os.environ | dbt_environment(settings)
    log.info("running %s", " ".join(command))
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        raise MartsBuildError(
            f"`dbt {' '.join(args)}` failed (exit {completed.returncode}); the published marts "
            f"at {settings.published_marts_file} were left as they were. See the dbt output above "
            f"and {settings.data_dir / 'dbt' / 'logs'}."
        )


def audit(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in present]
        if missing:
            raise MartsBuildError(f"{path} lacks mart tables {missing}")
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in REQUIRED_TABLES}


def publish(settings: Settings) -> dict[str, int]:
    source = build_file(settings)
    if not source.exists():
        raise MartsBuildError(f"nothing to publish: {source} does not exist (run the build first)")
    counts = audit(source)
    os.replace(source, settings.published_marts_file)
    log.info("published marts %s: %s", settings.published_marts_file, counts)
    return counts


def dbt_vars(as_of: date | None) -> list[str]:
    """``--vars`` for a build as of a logical date (none: the lake's last day with events)."""
    return [] if as_of is None else ["--vars", json.dumps({"as_of": as_of.isoformat()})]


def build(settings: Settings, as_of: date | None = None) -> dict[str, int]:
    prepare(settings)
    run_dbt(settings, "build", *dbt_vars(as_of))
    return publish(settings)
