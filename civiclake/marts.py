"""Write-audit-publish of the DuckDB marts.

dbt builds and tests the marts in a build file (``marts/build/civiclake.duckdb``). It
starts as a copy of the last good build (``marts/build/last-good.duckdb``: every relation
dbt made, staging, intermediate and the reference seeds included, readable by this user
only), so incremental models continue from it. Only when ``dbt build`` (models, unit tests
and data tests) succeeds and the audit finds every mart is the build published:

- the marts (``REQUIRED_TABLES``, schema ``main``) are copied into a new DuckDB file
  beside the published one, which replaces it with an atomic rename. The file Superset
  and SQL Lab read holds the marts and nothing else: no person-level staging or
  intermediate rows reach a viewer;
- the build file then becomes the last good build, also by atomic rename.

Readers see the old file or the new one, never a half-built one, and a failed build
leaves both the published marts and the last good build as they were.
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
    "mart_resource_positions",
    "mart_manhole_covers_daily",
    "mart_manhole_repair_costs",
    "mart_cases_by_channel_daily",
    "mart_escalations_daily",
    "mart_level_times_daily",
    "mart_command_promises_daily",
    "mart_camera_events_hourly",
    "mart_camera_cases_daily",
    "mart_operations",
    "mart_operation_orders",
    "mart_manhole_ledger",
)
# Silver tables the marts read beyond governance. A district connects its source systems
# one at a time: an absent one is created empty (``create_absent_silver_tables``), so the
# marts of a family not loaded yet come out empty but well-formed.
OPTIONAL_SILVER_TABLES = (
    "governance_dispatch_orders",
    "resources_households",
    "resources_cameras",
    "resources_vehicles",
    "resources_teams",
    "resource_positions",
    "city_cases",
    "city_manhole_covers",
    "city_repairs",
    "city_settlement_events",
    "party_organisations",
    "party_members",
    "party_activities",
    "party_attendance",
    "party_volunteer_services",
    "services_care_visits",
    "services_coupons",
    "services_requests",
)


# The full build holds person-level rows (staging, intermediate): this user only.
BUILD_FOLDER_MODE = 0o700
BUILD_FILE_MODE = 0o600
# Superset runs as its own user and must read the published marts.
PUBLISHED_FILE_MODE = 0o644


class MartsBuildError(RuntimeError):
    pass


def build_file(settings: Settings) -> Path:
    """The slot dbt builds and tests into."""
    return settings.marts / "build" / "civiclake.duckdb"


def last_good_file(settings: Settings) -> Path:
    """The last build that passed dbt's tests and the audit, every relation of it: where
    the next build starts, so that incremental models continue from it."""
    return settings.marts / "build" / "last-good.duckdb"


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


def create_absent_silver_tables(settings: Settings) -> list[str]:
    """Creates every optional silver table the marts read that the lake lacks, empty, with
    the schema the ingest writes (``civiclake.contracts.catalog.silver_schema``): a source
    family not connected yet gives empty marts, not a failed build. Returns the tables created."""
    from deltalake import write_deltalake

    from civiclake.contracts.catalog import contract, silver_schema
    from civiclake.lake.read import has_table, table_uri

    created = []
    for table in OPTIONAL_SILVER_TABLES:
        if has_table(settings, "silver", table):
            continue
        uri = table_uri(settings, "silver", table)
        write_deltalake(uri, silver_schema(table).empty_table(), mode="error")
        log.info(
            "silver.%s is absent (source family %s not loaded yet): created it empty at %s",
            table,
            contract(table).family,
            uri,
        )
        created.append(table)
    return created


def create_absent_platform_tables(settings: Settings) -> list[str]:
    """Creates, empty, the tables the platform itself writes that the marts read — the case
    funnel (silver.cases), the dispatch outbox (state.dispatch_outbox), the camera events
    of frame inference (silver.camera_events) and the joint operations with their tasks
    (state.operations, state.operation_tasks) — where a lake has not run those steps yet.
    Returns the tables created, as ``layer.table``."""
    from deltalake import write_deltalake

    from civiclake.cases import funnel
    from civiclake.dispatch import outbox
    from civiclake.frames import tables as frame_tables
    from civiclake.lake.read import has_table, table_uri
    from civiclake.operations import state as operation_state

    created = []
    for layer, table, schema in (
        ("silver", funnel.TABLE, funnel.arrow_schema()),
        (outbox.LAYER, outbox.TABLE, outbox.SCHEMA),
        ("silver", frame_tables.EVENTS, frame_tables.arrow_schema(frame_tables.EVENTS)),
        (operation_state.LAYER, operation_state.OPERATIONS, operation_state.OPERATIONS_SCHEMA),
        (operation_state.LAYER, operation_state.TASKS, operation_state.TASKS_SCHEMA),
    ):
        if has_table(settings, layer, table):
            continue
        write_deltalake(table_uri(settings, layer, table), schema.empty_table(), mode="error")
        log.info("%s.%s is absent (its step has not run on this lake): created it empty", layer, table)
        created.append(f"{layer}.{table}")
    return created


def _build_seed(settings: Settings) -> Path | None:
    """What a build starts from: the last good build; before the first one, a published
    file of the time when the whole build was published (its relations are a full build);
    else nothing, and dbt builds from scratch."""
    for candidate in (last_good_file(settings), settings.published_marts_file):
        if candidate.exists():
            return candidate
    return None


def prepare(settings: Settings) -> Path:
    create_absent_silver_tables(settings)
    create_absent_platform_tables(settings)
    target = build_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, BUILD_FOLDER_MODE)
    for stale in target.parent.glob(target.name + "*"):
        stale.unlink()
    seed = _build_seed(settings)
    if seed is not None:
        shutil.copyfile(seed, target)
        os.chmod(target, BUILD_FILE_MODE)
    log.info("marts build file prepared at %s (from %s)", target, seed or "nothing: a full build")
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
    """Rows of each mart; raises when one is missing from schema ``main``."""
    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        missing = [t for t in REQUIRED_TABLES if t not in present]
        if missing:
            raise MartsBuildError(f"{path} lacks mart tables {missing}")
        return {t: con.execute(f"select count(*) from main.{t}").fetchall()[0][0] for t in REQUIRED_TABLES}


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _checkpoint(path: Path) -> None:
    """Folds any write-ahead log into the file itself, so that the file alone, renamed or
    attached, holds the whole build."""
    with duckdb.connect(str(path)) as con:
        con.execute("checkpoint")


def _fsync(path: Path) -> None:
    """Flushes a file, or a folder's entries after a rename, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_with_wal(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def write_marts_only(build: Path, destination: Path) -> None:
    """A new DuckDB file at ``destination`` holding the marts of ``build`` and nothing else,
    in schema ``main`` with their column types. The marts are named one by one
    (``REQUIRED_TABLES``) rather than taken as whatever lies in ``main``: a model that
    lands there by mistake stays out of the viewers' file."""
    _remove_with_wal(destination)
    with duckdb.connect(str(destination)) as con:
        con.execute(f"attach {_sql_string(str(build))} as build (read_only)")
        for table in REQUIRED_TABLES:
            con.execute(f"create table main.{table} as select * from build.main.{table}")
        con.execute("detach build")
        con.execute("checkpoint")


def _publish_marts(build: Path, published: Path) -> None:
    """Writes the marts beside the published file, then renames over it: readers see the
    old file or the new one."""
    writing = published.with_name(f".{published.name}.publishing")
    try:
        write_marts_only(build, writing)
        os.chmod(writing, PUBLISHED_FILE_MODE)
        _fsync(writing)
        os.replace(writing, published)
    finally:
        _remove_with_wal(writing)
    _fsync(published.parent)


def _keep_as_last_good(build: Path, last_good: Path) -> None:
    os.chmod(build, BUILD_FILE_MODE)
    _fsync(build)
    os.replace(build, last_good)
    _fsync(last_good.parent)


def publish(settings: Settings) -> dict[str, int]:
    """Audits the build, publishes its marts, and keeps the build as the last good one.
    The build file is renamed last, so a publish cut short can be run again."""
    source = build_file(settings)
    if not source.exists():
        raise MartsBuildError(f"nothing to publish: {source} does not exist (run the build first)")
    _checkpoint(source)
    counts = audit(source)
    settings.published_marts_file.parent.mkdir(parents=True, exist_ok=True)
    _publish_marts(source, settings.published_marts_file)
    _keep_as_last_good(source, last_good_file(settings))
    log.info("published marts %s: %s", settings.published_marts_file, counts)
    return counts


def dbt_vars(as_of: date | None) -> list[str]:
    """``--vars`` for a build as of a logical date (none: the lake's last day with events)."""
    return [] if as_of is None else ["--vars", json.dumps({"as_of": as_of.isoformat()})]


def build(settings: Settings, as_of: date | None = None) -> dict[str, int]:
    prepare(settings)
    run_dbt(settings, "build", *dbt_vars(as_of))
    return publish(settings)
