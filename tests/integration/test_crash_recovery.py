"""The ingest job killed with SIGKILL in the middle of its MERGE into silver.

The job runs as its own process (``civiclake ingest governance``), on a source database
and lake of its own. The test watches the silver table's folder and kills the process as
soon as the MERGE has written a data file but before it commits. The next run must then
finish with every source row in silver exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from civiclake.settings import PROJECT_ROOT, Settings
from simulators.governance import simulate_day
from spark_jobs import ingest_governance
from tests.integration.conftest import scratch_database

pytestmark = pytest.mark.integration

CRASH_DB = f"civiclake_crash_{os.getpid()}"
FIRST = date(2026, 11, 10)


@pytest.fixture(scope="module")
def crash_settings(tmp_path_factory):
    with scratch_database(CRASH_DB):
        yield Settings(
            data_dir=tmp_path_factory.mktemp("crash"),
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=CRASH_DB,
            sim_cases_per_day=400,
            sim_history_days=0,
        )


def _committed_files(table: Path) -> tuple[int, set[str]]:
    """Latest committed version of a Delta table and the data files it has ever added."""
    logs = sorted((table / "_delta_log").glob("*.json"))
    added = set()
    for log in logs:
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                added.add(action["add"]["path"])
    return int(logs[-1].stem), added


def _run_until_merge_writes(settings: Settings, day: date, table: Path) -> tuple[bool, int]:
    """Runs the ingest of ``day`` in a child process; SIGKILLs it once the MERGE into
    ``table`` has written an uncommitted data file. Returns (killed, version before)."""
    version, _ = _committed_files(table)
    # Files on disk before the run (committed or not, e.g. an empty file left by creating
    # the table): only files the child writes count as the MERGE writing.
    before = {str(p.relative_to(table)) for p in table.rglob("*.parquet")}
    env = os.environ | {
        "CIVICLAKE_DATA_DIR": str(settings.data_dir),
        "CIVICLAKE_JARS_DIR": str(settings.jars),
        "CIVICLAKE_PG_SOURCES_DB": settings.pg_sources_db,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "civiclake.cli", "ingest", "governance", "--date", str(day)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the JVM is its child: kill the whole group
    )
    deadline = time.monotonic() + 600
    try:
        while child.poll() is None and time.monotonic() < deadline:
            written = {str(p.relative_to(table)) for p in table.rglob("*.parquet")}
            if written - before and _committed_files(table)[0] == version:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return True, version
            time.sleep(0.005)
        return False, version
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_sigkill_in_the_middle_of_merge_loses_nothing(spark, crash_settings):
    settings = crash_settings
    simulate_day(FIRST, settings)
    ingest_governance.run(spark, settings, FIRST)
    table = Path(settings.table_path("silver", "governance_cases"))

    # A few tries: on a fast machine the MERGE may commit before the watcher sees a file.
    killed_on = None
    for offset in range(1, 4):
        day = FIRST + timedelta(days=offset)
        simulate_day(day, settings)
        killed, version = _run_until_merge_writes(settings, day, table)
        if killed:
            killed_on = day
            # The kill landed before the commit: silver is still at the version before.
            assert _committed_files(table)[0] == version
            break
        ingest_governance.run(spark, settings, day)  # finished on its own: keep going
    assert killed_on is not None, "the MERGE always finished before it could be interrupted"

    result = ingest_governance.run(spark, settings, killed_on).table("governance_cases")
    assert not result.extracted  # the window was recorded before the crash: bronze is reused
    assert result.source_rows == result.silver_rows + result.quarantined_rows + result.duplicate_rows

    silver = spark.read.format("delta").load(str(table))
    assert silver.count() == silver.select("case_id").distinct().count()
    with psycopg.connect(settings.pg_conninfo()) as conn:
        source = set(conn.execute("select case_id, updated_at from governance.cases").fetchall())
    in_silver = {(r.case_id, r.updated_at) for r in silver.select("case_id", "updated_at").collect()}
    assert in_silver == source
