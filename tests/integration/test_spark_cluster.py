"""Every Spark job unchanged on a real Spark standalone cluster, against the same jobs run locally.

The cluster is the project's own (``infra/spark/cluster.sh``: a master and two workers of one
core each, started from the core environment's pyspark on free ports). One day's source data
of every family of ``civiclake/families.toml`` is simulated once; the session's local Spark
ingests it into one lake, and a driver process with ``CIVICLAKE_SPARK_MASTER=spark://…`` (one
session, every family's job and the case scoring, ``tests/integration/spark_cluster.py``) into
another, at the same time. Silver must be equal, table by table, row by row. The same driver
then runs one family's ingest again into a third lake while one worker is killed with SIGKILL
in the middle of the job: the job completes on the other worker, with the same silver, and a
local checkpoint taken before the kill (civiclake.spark.local_checkpoint) still reads whole.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest

from civiclake.families import families
from civiclake.settings import PROJECT_ROOT, Settings
from civiclake.spark import cluster_conf, driver_listener_conf
from tests.integration import spark_cluster
from tests.integration.conftest import scratch_database

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)
EVERY_FAMILY = "every-family"
WORKER_KILL = "worker-kill"
# One table, no dependency on other families' silver: the cheapest job to run again.
KILLED_JOB = "open311"
# Silver columns that record when a run wrote a row rather than what the source said: the
# Open311 ingest stamps the rows it quarantines with the instant it fetched their page
# (spark_jobs/ingest_open311.py, `_extracted_at`), so two runs differ there by their start
# times. Every other column is a function of the source and the logical date (a file
# export's `_extracted_at` is the file's modification time, which both runs' copies keep).
RUN_COLUMNS = {"open311_requests_quarantine": frozenset({"_extracted_at"})}
# The day is small, as a local run's batches are: the cluster's driver evaluates and plans
# its queries as a local run does (civiclake.spark), so the two runs differ in where the work
# runs, not in how Spark compiles it; results are the same either way.
SMALL_BATCHES = {"CIVICLAKE_SPARK_INTERPRETED": "true", "CIVICLAKE_SPARK_ADAPTIVE": "false"}
# A bound for waiting on the cluster's driver, far above its run on an idle machine.
TIMEOUT_S = 1800
# Rows of the local checkpoint the worker-kill phase takes before its job and reads after it.
SNAPSHOT_ROWS = 100_000

# What names a secret among the environment's variables (var/secrets.env).
SECRET_NAMES = ("KEY", "PASSWORD", "SECRET")

# The session's cluster (infra/spark/cluster.sh on free ports), a fixture of the helper module.
spark_standalone_cluster = spark_cluster.spark_standalone_cluster

_missing = spark_cluster.spark_scripts_missing()
if _missing:
    pytest.skip(f"no Spark standalone cluster here: {_missing}", allow_module_level=True)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Settings:
    """One day of every family's source systems, small: the jobs' work per query, not the
    rows, sets their time."""
    with scratch_database(f"civiclake_it_cluster_{os.getpid()}") as database:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("cluster-sources"),
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=database,
            sim_cases_per_day=20,
            sim_history_days=1,
            sim_scale=0.0005,
            sim_camera_count=1,
            sim_camera_files_per_day=2,
        )
        spark_cluster.simulate_sources(settings, D)
        yield settings


@pytest.fixture(scope="module")
def open311_url(sources):
    from simulators.open311_server import create_app, serve_in_thread

    with serve_in_thread(create_app(spark_cluster.open311_dataset(sources, D, per_day=20))) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(spark_standalone_cluster):
    return spark_standalone_cluster


class ClusterDriver:
    """The driver process on the cluster: phase one (every job) runs at once, phase two (one
    family's ingest again, into its own lake) when :meth:`go` is called."""

    def __init__(self, cluster, sources: Settings, open311_url: str, folder: Path):
        self.folder = folder
        self.progress = folder / "progress.jsonl"
        self.go_file = folder / "go"
        self.log = folder / "driver.log"
        self.lakes = {EVERY_FAMILY: folder / EVERY_FAMILY, WORKER_KILL: folder / WORKER_KILL}
        for data_dir in self.lakes.values():
            spark_cluster.copy_sources(sources.data_dir, data_dir)
        plan = {
            "day": D.isoformat(),
            "open311_url": open311_url,
            "progress": str(self.progress),
            "phases": [
                {
                    "name": EVERY_FAMILY,
                    "data_dir": str(self.lakes[EVERY_FAMILY]),
                    "jobs": spark_cluster.every_job(),
                },
                {
                    "name": WORKER_KILL,
                    "data_dir": str(self.lakes[WORKER_KILL]),
                    "jobs": [KILLED_JOB],
                    "watch_stages": True,
                    "wait_for": str(self.go_file),
                    "snapshot_rows": SNAPSHOT_ROWS,
                },
            ],
        }
        env = spark_cluster.settings_env(sources, cluster.master_url) | SMALL_BATCHES
        self.process = spark_cluster.start_plan(plan, folder / "plan.json", env, self.log)

    def events(self) -> list[dict]:
        return spark_cluster.read_progress(self.progress)

    def wait_for(self, event: str, phase: str) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e["event"] == event and e.get("phase") == phase]
            if found:
                return found[0]
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {event} of {phase} from the cluster's driver; its log:\n{self.tail()}")

    def go(self, answer: str = "go") -> None:
        """Lets phase two run ("go") or skips it ("stop"); the file appears whole (a rename)."""
        if not self.go_file.exists():
            written = self.go_file.with_suffix(".tmp")
            written.write_text(answer)
            written.rename(self.go_file)

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=TIMEOUT_S)
        except Exception:
            self.process.kill()
            raise

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(line for line in lines if not line.startswith("\tat "))[-6000:]


@pytest.fixture(scope="module")
def cluster_driver(cluster, sources, open311_url, tmp_path_factory):
    driver = ClusterDriver(cluster, sources, open311_url, tmp_path_factory.mktemp("cluster-driver"))
    yield driver
    driver.go("stop")
    driver.finish()


@pytest.fixture(scope="module")
def local_run(cluster_driver, spark, sources, open311_url, tmp_path_factory) -> Settings:
    """The same jobs on the session's local Spark (while the cluster's driver runs its own)."""
    settings = sources.model_copy(
        update={"data_dir": tmp_path_factory.mktemp("cluster-local"), "lake_path": None}
    )
    for cached in ("lake", "model_store"):
        settings.__dict__.pop(cached, None)
    spark_cluster.copy_sources(sources.data_dir, settings.data_dir)
    for job in spark_cluster.every_job():
        spark_cluster.run_job(spark, settings, D, job, open311_url)
    return settings


def silver_tables(lake: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((lake / "silver").iterdir()) if (p / "_delta_log").is_dir()}


def rows_of(path: Path) -> tuple[list[str], list[tuple]]:
    """A Delta table's columns (less its RUN_COLUMNS) and rows, in a fixed order, read with delta-rs."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path)).to_pyarrow_table()
    columns = sorted(c for c in table.column_names if c not in RUN_COLUMNS.get(path.name, ()))
    rows = [tuple(r[c] for c in columns) for r in table.select(columns).to_pylist()]
    return columns, sorted(rows, key=repr)


def assert_same_silver(
    local_lake: Path, cluster_lake: Path, only: tuple[str, ...] | None = None
) -> dict[str, int]:
    """Every silver table of the local lake (or those named ``only``) holds the same columns and
    rows in the cluster's lake, which holds no other; returns each table's row count."""
    local, remote = silver_tables(local_lake), silver_tables(cluster_lake)
    if only is not None:
        local = {n: p for n, p in local.items() if n in only}
        remote = {n: p for n, p in remote.items() if n in only}
        assert sorted(local) == sorted(only)
    assert sorted(remote) == sorted(local)
    counts = {}
    for name, path in local.items():
        local_columns, local_rows = rows_of(path)
        cluster_columns, cluster_rows = rows_of(remote[name])
        assert cluster_columns == local_columns, name
        assert len(cluster_rows) == len(local_rows), (
            f"silver.{name}: {len(cluster_rows)} rows on the cluster, {len(local_rows)} locally"
        )
        differing = [(a, b) for a, b in zip(local_rows, cluster_rows, strict=True) if a != b]
        assert not differing, f"silver.{name}: {len(differing)} rows differ, first {differing[0]}"
        counts[name] = len(local_rows)
    return counts


def test_cluster_settings_place_the_driver_where_executors_reach_it():
    """Loopback for a master on loopback (the executors of cluster.sh run here); a named host
    wins; a remote master keeps Spark's default; local runs get no executor settings."""
    loopback = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
    assert driver_listener_conf("spark://127.0.0.1:7077") == loopback
    assert driver_listener_conf("spark://localhost:7077,127.0.0.2:7078") == loopback
    assert driver_listener_conf("spark://10.0.0.5:7077") == {}
    assert driver_listener_conf("spark://10.0.0.5:7077", "10.0.0.9") == {
        "spark.driver.bindAddress": "10.0.0.9",
        "spark.driver.host": "10.0.0.9",
    }
    assert driver_listener_conf("local[2]", "10.0.0.9") == loopback
    settings = Settings(spark_executor_memory="3g", spark_executor_cores=2)
    assert cluster_conf("local[2]", settings) == {}
    assert cluster_conf("spark://127.0.0.1:7077", settings) == {
        "spark.executor.memory": "3g",
        "spark.executor.cores": "2",
    }


def test_every_family_and_the_scoring_on_the_cluster_equal_the_local_run(cluster, cluster_driver, local_run):
    end = cluster_driver.wait_for("phase-end", EVERY_FAMILY)
    events = cluster_driver.events()
    (session,) = [e for e in events if e["event"] == "session"]
    assert session["master"] == cluster.master_url
    ran = [e["job"] for e in events if e["event"] == "job-end" and e["phase"] == EVERY_FAMILY]
    assert ran == [*families(), spark_cluster.SCORING]
    # Both workers ran an executor of the driver's application (each has its work folder).
    (app,) = cluster.master_state()["activeapps"]
    assert app["name"] == f"civiclake_day_{D}" and app["state"] == "RUNNING"
    for worker in (1, 2):
        assert (cluster.state_dir / f"worker-{worker}" / app["id"]).is_dir(), worker
    assert end["executors"] == spark_cluster.WORKERS

    counts = assert_same_silver(Path(local_run.lake), cluster_driver.lakes[EVERY_FAMILY] / "lake")
    # Every family's silver tables, the case funnel's and the scoring's were compared, and each
    # of them landed rows: equal lakes, not two empty ones.
    for family in families().values():
        assert set(family.silver_tables()) <= set(counts), family.name
        assert sum(counts[table] for table in family.silver_tables()) > 0, family.name
    assert counts["cases"] > 0 and counts["case_dispatch"] > 0


def test_cluster_script_is_idempotent_and_keeps_secrets_off_the_daemons(cluster, cluster_driver):
    again = cluster.script("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout and f"{spark_cluster.WORKERS} alive workers" in again.stdout
    status = cluster.script("status")
    assert status.returncode == 0 and cluster.master_url in status.stdout
    assert f"{spark_cluster.WORKERS} alive workers" in status.stdout
    secrets = [v for k, v in os.environ.items() if any(w in k for w in SECRET_NAMES) and len(v) >= 8]
    assert secrets, "the secrets of var/secrets.env are not in this environment"
    # Every process of the cluster: the master, the workers, their executors and Python workers.
    processes = [
        pid
        for name in ("master", "worker-1", "worker-2")
        for pid in spark_cluster.process_group(int((cluster.state_dir / f"{name}.pid").read_text()))
    ]
    assert len([pid for w in (1, 2) for pid in cluster.executors_of(w)]) == spark_cluster.WORKERS
    for pid in processes:
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        except OSError:
            continue  # a Python worker that ended since the listing
        for secret in secrets:
            assert secret not in environment and secret not in spark_cluster.cmdline(pid), pid
    for log in cluster.state_dir.rglob("*"):
        if log.is_file() and log.suffix != ".jar":
            text = log.read_bytes().decode(errors="replace")
            assert not any(secret in text for secret in secrets), log


def test_a_worker_killed_mid_job_the_job_completes_with_the_same_silver(cluster, cluster_driver, local_run):
    cluster_driver.wait_for("phase-end", EVERY_FAMILY)
    before = cluster.executors_of(1)
    assert before and cluster.executors_of(2), "an executor on each worker before the kill"
    cluster_driver.go()
    cluster_driver.wait_for("stage-active", WORKER_KILL)
    (app,) = cluster.master_state()["activeapps"]
    assert app["state"] == "RUNNING"
    killed = spark_cluster.kill_worker(cluster, 1)
    killed_at = time.time()
    assert cluster_driver.finish() == 0, cluster_driver.tail()

    assert not any(spark_cluster.alive(pid) for pid in killed)
    events = cluster_driver.events()
    (start,) = [e for e in events if e["event"] == "job-start" and e["phase"] == WORKER_KILL]
    (end,) = [e for e in events if e["event"] == "job-end" and e["phase"] == WORKER_KILL]
    assert start["at"] < killed_at < end["at"], "the kill landed while the job ran"
    (phase_end,) = [e for e in events if e["event"] == "phase-end" and e["phase"] == WORKER_KILL]
    assert phase_end["executors"] == spark_cluster.WORKERS - 1, "the driver lost worker-1's executor"
    # A local checkpoint taken before the kill (civiclake.spark.local_checkpoint: its blocks on
    # both executors) still reads whole afterwards: ids 0 … n-1, their sum n(n-1)/2.
    (snapshot,) = [e for e in events if e["event"] == "snapshot-read"]
    assert (snapshot["rows"], snapshot["sum"]) == (SNAPSHOT_ROWS, SNAPSHOT_ROWS * (SNAPSHOT_ROWS - 1) // 2)
    killed_family = families()[KILLED_JOB].silver_tables()
    counts = assert_same_silver(
        Path(local_run.lake), cluster_driver.lakes[WORKER_KILL] / "lake", killed_family
    )
    assert sum(counts.values()) > 0
