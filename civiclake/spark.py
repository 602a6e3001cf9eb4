"""The Spark session with Delta Lake, configured from settings.

The Delta jars are resolved once at set-up (``infra/spark/fetch_jars.sh``) and passed as
``spark.jars``, so starting a session never reaches a package repository.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from civiclake.settings import Settings

LOOPBACK = "127.0.0.1"


class SparkSetupError(RuntimeError):
    pass


def delta_jars(settings: Settings) -> list[str]:
    jars = sorted(str(p) for p in Path(settings.jars).glob("*.jar"))
    if not any("delta-spark" in Path(j).name for j in jars):
        raise SparkSetupError(
            f"no Delta jars in {settings.jars}: run `bash infra/spark/fetch_jars.sh` "
            "(part of infra/setup.sh) once to resolve them with Maven"
        )
    return jars


def driver_listener_conf(master: str, driver_host: str | None = None) -> dict[str, str]:
    """Where the driver's RPC and block-manager ports listen, and the address executors use.

    Spark binds them to the address the host name resolves to, which is reachable from the
    network. In ``local[...]`` mode the executors live in the driver's JVM, so loopback is
    enough. On a cluster the executors must reach the driver: at ``driver_host`` when the
    deployment names one (``CIVICLAKE_SPARK_DRIVER_HOST``); on loopback when the master itself
    is on loopback (``infra/spark/cluster.sh``: every executor runs on this machine); else
    where Spark's default puts it.
    """
    if master.startswith("local"):
        return {"spark.driver.bindAddress": LOOPBACK, "spark.driver.host": LOOPBACK}
    if driver_host:
        return {"spark.driver.bindAddress": driver_host, "spark.driver.host": driver_host}
    if _on_loopback(master):
        return {"spark.driver.bindAddress": LOOPBACK, "spark.driver.host": LOOPBACK}
    return {}


def _on_loopback(master: str) -> bool:
    """Whether a ``spark://host:port`` master (or a list of them, for standby masters) is on
    this machine's loopback interface."""
    if not master.startswith("spark://"):
        return False
    hosts = [address.rsplit(":", 1)[0] for address in master.removeprefix("spark://").split(",")]
    return all(host == "localhost" or host.startswith("127.") for host in hosts)


def cluster_conf(master: str, settings: Settings) -> dict[str, str]:
    """What each executor takes from a cluster's worker; nothing in ``local[...]`` mode, where
    the driver's JVM runs the tasks and the local default stays as it was."""
    if master.startswith("local"):
        return {}
    return {
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.executor.cores": str(settings.spark_executor_cores),
    }


def local_checkpoint(df):
    """``df`` computed now, its lineage cut, its rows kept in the executors' block stores
    (``DataFrame.localCheckpoint``) — a snapshot that later reads cannot recompute.

    On a cluster an executor can die with its worker; a block of a local checkpoint it held is
    then gone, and the next read fails ("Checkpoint block … not found"). There the blocks are
    kept on two executors (``MEMORY_AND_DISK_2``), so losing one worker loses none. A local run
    has one executor, the driver's JVM, and keeps Spark's default.
    """
    from pyspark import StorageLevel

    if df.sparkSession.sparkContext.master.startswith("local"):
        return df.localCheckpoint()
    return df.localCheckpoint(storageLevel=StorageLevel.MEMORY_AND_DISK_2)


CODEGEN_FACTORY_MODE = "spark.sql.codegen.factoryMode"  # Spark's default: FALLBACK (generated code)
ADAPTIVE_EXECUTION = "spark.sql.adaptive.enabled"  # Spark's default: true


def evaluation_conf(master: str, interpreted: bool | None = None) -> dict[str, str]:
    """How expressions are evaluated: interpreted where ``interpreted``, which by default
    (None) holds in local mode only.

    A local run handles small daily batches in many short queries: compiling generated
    Java for each new expression costs more CPU than the batch's rows ever win back (the
    registry ingest of one day: 77 s compiled, 59 s interpreted, in
    bench/bench_spark_evaluation.py). Interpreted evaluation gives the same results. On a
    cluster, where batches are large and the compile cost is shared, Spark's default
    (generated code) stays. ``CIVICLAKE_SPARK_INTERPRETED`` decides for any master.
    """
    if interpreted is None:
        interpreted = master.startswith("local")
    return {CODEGEN_FACTORY_MODE: "NO_CODEGEN"} if interpreted else {}


def planning_conf(master: str, adaptive: bool | None = None) -> dict[str, str]:
    """Whether queries are re-planned while they run (adaptive query execution): where
    ``adaptive``, which by default (None) holds on a cluster only.

    Adaptive execution re-optimises a query at each shuffle from the sizes the stage
    produced: it pays where partitions are many and skewed. A local run's batches fit in a
    few partitions that it has nothing to coalesce or split, and re-planning every stage
    of hundreds of short queries costs driver time (the registry ingest of one day: 1.10x
    with it, bench/bench_spark_evaluation.py --compare adaptive). Results are the same. On a
    cluster Spark's default (adaptive) stays. ``CIVICLAKE_SPARK_ADAPTIVE`` decides for any master.
    """
    if adaptive is None:
        adaptive = not master.startswith("local")
    return {} if adaptive else {ADAPTIVE_EXECUTION: "false"}


def spark_session(settings: Settings, app_name: str):
    """A (shared) SparkSession with Delta enabled; local by default, a cluster by settings."""
    from pyspark.sql import SparkSession

    # Python workers must use this environment's interpreter (pandas UDFs need its packages).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", ",".join(delta_jars(settings)))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        # Source systems record wall-clock times without a zone; the lake keeps them as
        # the UTC instant of the same digits. A UTC session and JVM make Spark's dates,
        # hours and string forms show those digits on any machine, whatever its zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Spark's progress bar on a terminal; plain logs (Airflow, CI) stay readable.
        .config("spark.ui.showConsoleProgress", str(sys.stderr.isatty()).lower())
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(Path(settings.data_dir) / "spark-warehouse"))
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={settings.data_dir} -Duser.timezone=UTC",
        )
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # Small local lakes: a few partitions to rebuild a table's state, not Delta's 50.
        .config("spark.databricks.delta.snapshotPartitions", str(settings.spark_shuffle_partitions))
        # Keep tables readable by delta-rs (dbt-duckdb's delta plugin reads the lake with it).
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
    )
    if settings.geography_version:
        # Jobs place points in the geography on the executors too: a cluster's executors do
        # not inherit the driver's environment.
        builder = builder.config("spark.executorEnv.CIVICLAKE_GEOGRAPHY_VERSION", settings.geography_version)
    placement = (
        driver_listener_conf(settings.spark_master, settings.spark_driver_host)
        | evaluation_conf(settings.spark_master, settings.spark_interpreted)
        | planning_conf(settings.spark_master, settings.spark_adaptive)
        | cluster_conf(settings.spark_master, settings)
    )
    for key, value in placement.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
