"""A Spark standalone cluster for tests and benchmarks, and one day of the platform on any master.

The cluster is the project's own: ``infra/spark/cluster.sh`` starts a master and two workers
from the core environment's pyspark on free ports, in a state folder of the caller's, and
stops them. The day is one day's ingest of every source family of ``civiclake/families.toml``
and the case scoring (case funnel, classifier training, scoring), each job's ``run`` exactly
as the CLI calls it, in one Spark session. Run as a program it plays a plan of such days
(``python -m tests.integration.spark_cluster PLAN.json``) in one session built from the
``CIVICLAKE_*`` environment, writing what happens (jobs, an active stage, executors) to a
progress file, so a test can attack the cluster at a known point of a job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from civiclake.families import families
from civiclake.settings import PROJECT_ROOT, Settings

CLUSTER_SCRIPT = PROJECT_ROOT / "infra" / "spark" / "cluster.sh"
CORE_PYTHON = PROJECT_ROOT / ".venvs" / "core" / "bin" / "python"
WORKERS = 2
# The families whose data lives in files the ingest reads (and may remove) under the data folder.
SOURCE_FOLDERS = ("landing", "sources")
SCORING = "scoring"


def spark_scripts_missing() -> str | None:
    """Why the cluster cannot start here (pyspark without its launch scripts), or None."""
    try:
        import pyspark
    except ImportError:
        return "pyspark is not installed in this environment"
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not os.access(spark_class, os.X_OK):
        return f"{spark_class} is missing: the pyspark distribution lacks its launch scripts"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    """A cluster started by ``infra/spark/cluster.sh`` with the environment ``env``."""

    state_dir: Path
    port: int
    ui_port: int

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {
            "CIVICLAKE_SPARK_CLUSTER_DIR": str(self.state_dir),
            "CIVICLAKE_SPARK_CLUSTER_PORT": str(self.port),
            "CIVICLAKE_SPARK_CLUSTER_UI_PORT": str(self.ui_port),
            "CIVICLAKE_SPARK_CLUSTER_WORKERS": str(WORKERS),
        }

    def script(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def master_state(self) -> dict:
        """The master's state (its web UI's ``/json/``): workers, applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=10) as answer:
            return json.load(answer)

    def worker_pid(self, number: int) -> int:
        return int((self.state_dir / f"worker-{number}.pid").read_text())

    def executors_of(self, number: int) -> list[int]:
        """Process ids of the executors worker ``number`` runs (its child JVMs)."""
        return [
            pid for pid in children(self.worker_pid(number)) if "CoarseGrainedExecutorBackend" in cmdline(pid)
        ]


def _processes(field: int, value: int) -> list[int]:
    """Pids whose ``/proc/<pid>/stat`` field (counted after the command name) equals ``value``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[field]) == value:
            found.append(int(stat.parent.name))
    return found


def children(pid: int) -> list[int]:
    return _processes(1, pid)


def process_group(pgid: int) -> list[int]:
    """A daemon of cluster.sh and everything it started (they share its process group)."""
    return _processes(2, pgid)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a killed process its parent has not reaped yet is a zombie: not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_worker(cluster: Cluster, number: int) -> list[int]:
    """SIGKILL to worker ``number``'s process group: its JVM, its executors and their Python
    workers (cluster.sh starts each worker in its own session). Returns the pids it held."""
    pid = cluster.worker_pid(number)
    held = process_group(pid)
    os.killpg(pid, signal.SIGKILL)
    return held


@contextmanager
def running_cluster(state_dir: Path) -> Iterator[Cluster]:
    """The project's cluster on free ports, state in ``state_dir``; stopped on exit."""
    cluster = Cluster(state_dir, free_port(), free_port())
    started = cluster.script("start")
    try:
        if started.returncode != 0:
            raise RuntimeError(f"infra/spark/cluster.sh start failed:\n{started.stdout}\n{started.stderr}")
        yield cluster
    finally:
        cluster.script("stop", timeout=120)


@pytest.fixture(scope="session")
def spark_standalone_cluster(tmp_path_factory) -> Iterator[Cluster]:
    """The project's cluster for the test session (a test module imports this fixture);
    skipped, with the reason, where the core environment's pyspark lacks its launch scripts."""
    missing = spark_scripts_missing()
    if missing:
        pytest.skip(f"no Spark standalone cluster here: {missing}")
    with running_cluster(tmp_path_factory.mktemp("spark-cluster")) as cluster:
        yield cluster


# --- one day of the platform -------------------------------------------------------------


def simulate_sources(settings: Settings, day: date) -> None:
    """Every simulated family's source data of ``day`` (with the history the settings ask for):
    the PostgreSQL systems and the file exports under ``settings.data_dir``."""
    from simulators import cameras, city, governance, party, positions, resources, services, weather

    governance.simulate_day(day, settings, history_days=settings.sim_history_days)
    weather.simulate_day(day, settings)
    city.simulate_day(day, settings, history_days=settings.sim_history_days)
    resources.simulate_day(day, settings)
    positions.simulate_day(day, settings)
    cameras.simulate_day(day, settings)
    party.simulate_day(day, settings)
    services.simulate_day(day, settings)


def copy_sources(sources: Path, data_dir: Path) -> None:
    """The file exports of ``sources`` copied into a run's own data folder: each run's ingest
    records its receipts there and may remove what it loaded."""
    for folder in SOURCE_FOLDERS:
        if (sources / folder).is_dir():
            shutil.copytree(sources / folder, data_dir / folder)


def open311_dataset(settings: Settings, day: date, per_day: int = 40):
    from simulators.open311_server import LonghuaDataset

    return LonghuaDataset(day, day, seed=settings.seed, per_day=per_day)


def run_job(spark, settings: Settings, day: date, name: str, open311_url: str):
    """One family's ingest of ``day``, or the case scoring, as the CLI runs it."""
    if name == "governance":
        from spark_jobs import ingest_governance as job
    elif name == "city":
        from spark_jobs import ingest_city as job
    elif name == "resources":
        from spark_jobs import ingest_resources as job
    elif name == "positions":
        from spark_jobs import ingest_positions as job
    elif name == "cameras":
        from spark_jobs import ingest_cameras as job
    elif name in ("party", "services"):
        from spark_jobs import ingest_exports

        return ingest_exports.run(spark, settings, day, name).summary()
    elif name == "open311":
        from spark_jobs import ingest_open311

        return ingest_open311.run(spark, settings, day, open311_url, "longhua").summary()
    elif name == SCORING:
        from spark_jobs import case_funnel, score_cases, train_classifier

        case_funnel.run(spark, settings, day)
        train_classifier.run(spark, settings, day)
        return score_cases.run(spark, settings, day)
    else:
        raise KeyError(f"no job for {name!r}")
    return job.run(spark, settings, day).summary()


def every_job() -> list[str]:
    """Every family of civiclake/families.toml in its order, then the scoring."""
    return [*families(), SCORING]


class Progress:
    """JSON lines about the run, flushed as they happen: a test reads them while it runs."""

    def __init__(self, path: str | None):
        self.path = path
        self.lock = threading.Lock()

    def write(self, event: str, **fields) -> None:
        if not self.path:
            return
        line = json.dumps({"event": event, "at": time.time(), **fields}, default=str)
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def read_progress(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def executor_count(spark) -> int:
    """Executors the driver knows now (its block managers, less its own)."""
    return spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1


def _watch_stages(spark, progress: Progress, phase: str, done: threading.Event) -> None:
    """Writes ``stage-active`` once, when a stage of the phase has tasks running."""
    tracker = spark.sparkContext.statusTracker()
    while not done.is_set():
        for stage_id in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage_id)
            if info is not None and info.numActiveTasks > 0:
                progress.write("stage-active", phase=phase, stage=stage_id, tasks=info.numActiveTasks)
                return
        time.sleep(0.05)


def play(plan: dict) -> None:
    """Plays ``plan``: {"day", "open311_url", "progress", "phases": [{"name", "data_dir", "jobs",
    "watch_stages", "wait_for", "snapshot_rows"}]} in one Spark session of the ``CIVICLAKE_*``
    settings."""
    from civiclake.settings import get_settings
    from civiclake.spark import local_checkpoint, spark_session

    progress = Progress(plan.get("progress"))
    day = date.fromisoformat(plan["day"])
    base = get_settings()
    started = time.perf_counter()
    spark = spark_session(base, f"civiclake_day_{day}")
    progress.write("session", master=base.spark_master, seconds=time.perf_counter() - started)
    for phase in plan["phases"]:
        if phase.get("wait_for"):
            go = Path(phase["wait_for"])
            while not go.exists():
                time.sleep(0.1)
            if go.read_text().strip() == "stop":
                progress.write("phase-skipped", phase=phase["name"])
                continue
        settings = base.model_copy(update={"data_dir": Path(phase["data_dir"]), "lake_path": None})
        for cached in ("lake", "model_store"):
            settings.__dict__.pop(cached, None)
        progress.write("phase-start", phase=phase["name"], executors=executor_count(spark))
        snapshot = None
        if phase.get("snapshot_rows"):
            # A local checkpoint taken before the jobs and read after them: on a cluster it must
            # outlive a worker lost in between (civiclake.spark.local_checkpoint).
            snapshot = local_checkpoint(spark.range(0, phase["snapshot_rows"], numPartitions=4))
        done = threading.Event()
        if phase.get("watch_stages"):
            threading.Thread(
                target=_watch_stages, args=(spark, progress, phase["name"], done), daemon=True
            ).start()
        for name in phase["jobs"]:
            began = time.perf_counter()
            progress.write("job-start", phase=phase["name"], job=name)
            result = run_job(spark, settings, day, name, plan["open311_url"])
            progress.write(
                "job-end", phase=phase["name"], job=name, seconds=time.perf_counter() - began, result=result
            )
        done.set()
        if snapshot is not None:
            count, total = snapshot.selectExpr("count(*)", "sum(id)").first()
            progress.write("snapshot-read", phase=phase["name"], rows=count, sum=total)
        progress.write("phase-end", phase=phase["name"], executors=executor_count(spark))
    spark.stop()


def settings_env(settings: Settings, master: str) -> dict[str, str]:
    """The environment that gives a new process ``settings`` on ``master`` (secrets come from
    the caller's environment, as everywhere)."""
    env = dict(os.environ)
    fields = {
        "data_dir": settings.data_dir,
        "jars_dir": settings.jars,
        "pg_sources_db": settings.pg_sources_db,
        "seed": settings.seed,
        "sim_cases_per_day": settings.sim_cases_per_day,
        "sim_history_days": settings.sim_history_days,
        "sim_scale": settings.sim_scale,
        "sim_camera_count": settings.sim_camera_count,
        "sim_camera_files_per_day": settings.sim_camera_files_per_day,
        "raw_export_retention_days": settings.raw_export_retention_days,
        "spark_master": master,
    }
    env.update({f"CIVICLAKE_{name.upper()}": str(value) for name, value in fields.items()})
    env.pop("CIVICLAKE_LAKE_PATH", None)
    return env


def start_plan(plan: dict, plan_file: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The plan played by a new process (its own Spark driver), output into ``log``."""
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen(
            [str(CORE_PYTHON), "-m", "tests.integration.spark_cluster", str(plan_file)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def main(argv: list[str]) -> int:
    (plan_file,) = argv
    play(json.loads(Path(plan_file).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
