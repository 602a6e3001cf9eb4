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

Time travel: ``prepare`` pins the version of every lake table the dbt sources read, and dbt
reads those versions (civiclake/marts_publications.py); ``publish`` records them with the
build's logical date, and ``rebuild`` builds a past day's marts again from its record.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb

from civiclake import marts_publications as publications
from civiclake.lake.history import LakeVersions, check_pinned, pin_versions
from civiclake.settings import PROJECT_ROOT, Settings
from civiclake.spark import (
    ADAPTIVE_EXECUTION,
    CODEGEN_FACTORY_MODE,
    evaluation_conf,
    planning_conf,
)

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
        # How its session evaluates expressions and plans queries: the jobs' own rules
        # (civiclake.spark).
        "CIVICLAKE_SPARK_CODEGEN_FACTORY_MODE": evaluation_conf(
            settings.spark_master, settings.spark_interpreted
        ).get(CODEGEN_FACTORY_MODE, "FALLBACK"),
        "CIVICLAKE_SPARK_ADAPTIVE_EXECUTION": planning_conf(
            settings.spark_master, settings.spark_adaptive
        ).get(ADAPTIVE_EXECUTION, "true"),
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


# Where each dbt run writes the logical date it was given (dbt/macros/record_build_run.sql).
BUILD_RUN_TABLE = "civiclake_build.run"


def prepare(settings: Settings) -> Path:
    """The build file, a copy of the last good build, and the lake versions the build will
    read: every lake table of the dbt sources at its newest version now."""
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
        # The seed's record of its own dbt run is not this build's.
        with duckdb.connect(str(target)) as con:
            con.execute(f"drop table if exists {BUILD_RUN_TABLE}")
    pin_lake_versions(settings)
    log.info("marts build file prepared at %s (from %s)", target, seed or "nothing: a full build")
    return target


def pin_lake_versions(settings: Settings) -> LakeVersions:
    """Pins the newest version of every lake table the dbt sources read, for the build that
    ``prepare`` started: dbt reads these versions, however the lake moves on meanwhile."""
    versions = pin_versions(settings, publications.dbt_lake_sources())
    versions.write(publications.pins_file(build_file(settings)))
    return versions


def run_dbt(settings: Settings, *args: str, overrides: dict[str, str] | None = None) -> None:
    """Runs dbt on the build file (``overrides``: environment variables in place of
    :func:`dbt_environment`'s, as a rebuild gives its own build file)."""
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    env = os.environ | dbt_environment(settings) | (overrides or {})
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


def build_day(path: Path) -> date | None:
    """The logical date dbt built ``path`` for, as its runs recorded it; without ``as_of``,
    the day ``as_of_date()`` falls back to (the last day with a lifecycle event). None when
    no dbt run has recorded one since ``prepare``."""
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            rows = con.execute(f"select as_of from {BUILD_RUN_TABLE}").fetchall()
        except duckdb.CatalogException:
            return None
        if rows and rows[0][0]:
            return date.fromisoformat(rows[0][0][:10])
        try:
            ((last_event_day,),) = con.execute(
                "select max(cast(occurred_at as date)) from staging.stg_governance__case_events"
            ).fetchall()
        except duckdb.CatalogException:
            return None
        return last_event_day


def _record_publication(settings: Settings, build: Path, counts: dict[str, int]) -> None:
    """Records the day and the lake versions of the build just published (time travel)."""
    day = build_day(build)
    versions = LakeVersions.read(publications.pins_file(build))
    if day is None or versions is None:
        log.warning(
            "published marts not recorded for time travel: %s",
            "no dbt run since `marts prepare` recorded its day"
            if day is None
            else "the build has no pinned lake versions (`marts prepare` pins them)",
        )
        return
    path = publications.record(
        settings,
        publications.Publication(
            logical_date=day,
            published_at=publications.now(),
            lake_versions=versions,
            dbt_project=publications.dbt_project_digest(),
            marts=counts,
        ),
    )
    log.info("publication of the marts of %s recorded at %s", day, path)


def publish(settings: Settings) -> dict[str, int]:
    """Audits the build, publishes its marts, records what it read, and keeps the build as
    the last good one. The build file is renamed last, so a publish cut short can be run again.

    A build of a day older than the newest published one (a backfill of past days) is
    audited and recorded for its day, so ``marts rebuild`` finds it, but the live marts and
    the last good build stay the newer day's: viewers never go back in time, and the next
    day's incremental build starts from the newest.
    """
    source = build_file(settings)
    if not source.exists():
        raise MartsBuildError(f"nothing to publish: {source} does not exist (run the build first)")
    _checkpoint(source)
    counts = audit(source)
    day, newest = build_day(source), publications.newest_published_day(settings)
    if day is not None and newest is not None and day < newest:
        _record_publication(settings, source, counts)
        log.warning(
            "marts of %s recorded, not made live: the marts of %s, a newer day, stay published", day, newest
        )
        return counts
    settings.published_marts_file.parent.mkdir(parents=True, exist_ok=True)
    _publish_marts(source, settings.published_marts_file)
    _record_publication(settings, source, counts)
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


def rebuild(settings: Settings, day: date, out: Path) -> dict[str, int]:
    """The marts of ``day`` built again, from scratch, reading every lake table at the version
    the day's latest publication recorded, and written (marts only) to ``out``. dbt's tests
    are not run again: the published build passed them on the same input.

    The published build was incremental (``int_case_days`` kept the days before the lookback
    from earlier builds); the rebuild computes every day from the pinned lake. The two agree
    wherever the incremental chain equals a full refresh, which holds while no lifecycle
    event is recorded more than ``case_days_lookback_days`` after its day.

    Raises :class:`MartsBuildError` for an ``out`` that is a file of the live marts,
    ``publications.PublicationError`` when no publication of ``day`` is recorded, and
    ``TimeTravelError`` when a recorded version is beyond the lake's history retention.
    """
    out = out.resolve()
    if out in {
        p.resolve() for p in (settings.published_marts_file, build_file(settings), last_good_file(settings))
    }:
        raise MartsBuildError(f"{out} is a file of the live marts: rebuild into another file")
    publication = publications.publication_of(settings, day)
    recorded = publication.lake_versions
    versions = LakeVersions(lake=settings.lake, tables=recorded.tables, absent=recorded.absent)
    check_pinned(settings, versions)
    if publication.dbt_project != publications.dbt_project_digest():
        log.warning(
            "the dbt project has changed since the marts of %s were published (%s): the rebuild "
            "reads the same lake versions through today's models, seeds and macros",
            day,
            publication.path,
        )
    scratch_root = settings.data_dir / "dbt"
    scratch_root.mkdir(parents=True, exist_ok=True)
    # The full build holds person-level rows: a private folder (mkdtemp: this user only).
    with tempfile.TemporaryDirectory(prefix="rebuild-", dir=scratch_root) as scratch:
        build = Path(scratch) / "civiclake.duckdb"
        versions.write(publications.pins_file(build))
        overrides = {
            "CIVICLAKE_DBT_DUCKDB_PATH": str(build),
            "DBT_TARGET_PATH": str(Path(scratch) / "target"),
            "DBT_LOG_PATH": str(Path(scratch) / "logs"),
        }
        exclude_tests = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
        run_dbt(settings, "build", "--target", "duckdb", *exclude_tests, *dbt_vars(day), overrides=overrides)
        counts = audit(build)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_marts_only(build, out)
    log.info("marts of %s rebuilt from %s into %s", day, publication.path, out)
    return counts
