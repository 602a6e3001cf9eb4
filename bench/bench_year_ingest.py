"""A year of every source family at the district's scale, ingested end to end: rows/s by family.

Each family of ``civiclake/families.toml`` is given a year (``--days``, ending ``--date``)
by its own simulator at the demo's scale (``CIVICLAKE_SIM_CASES_PER_DAY``,
``CIVICLAKE_SIM_SCALE``, the settings' defaults unless ``--cases-per-day`` / ``--scale``),
then ingested with the Spark job the daily DAG's ``civiclake ingest <family>`` calls:
extraction → bronze → checks and quarantine → silver MERGE or SCD2 → reconciliation.
Simulation and ingest are timed apart. What "a year" is depends on how the family delivers:

* a source that keeps its history (the governance and city-management PostgreSQL
  databases, the Open311 API): the year's first days in one first extraction (no
  watermark yet: every row up to the window's end), then ``--increments`` daily runs
  by watermark, so silver ends up holding the whole year;
* a source that delivers a day at a time (registry snapshots, hourly position files,
  camera clips, Excel/CSV exports): the last ``--sample-days`` days of the year ingested
  one run a day, as the DAG does; the first is the first delivery into an empty lake,
  and the year is that day plus ``days - 1`` times the mean of the others (estimated,
  marked ``≈``; a registry's SCD2 history grows over a real year, which the sample does
  not see).

Everything runs on a scratch data folder and a scratch PostgreSQL database of its own,
removed afterwards unless ``--keep``; the Open311 server is the simulated one, served on a
free port by the process that ingests it. Each family runs in a process of its own with its
own Spark session, as a DAG task does; the runs of one family share it, so the JVM start a
DAG task pays on every run (printed per family) comes on top of each run's seconds. The
JVM's peak resident memory is read from ``/proc/<pid>/status`` (VmHWM), reset before each run.

    nice -n 10 .venvs/core/bin/python bench/bench_year_ingest.py --days 365
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger("bench")

WORK_ROOT = Path("/tmp/yearbench")
# Families whose source keeps its history: one first extraction takes the year.
HISTORY_SOURCES = ("governance", "city", "open311")
# Families delivered a day at a time: a sample of days, the year estimated from it.
DAILY_DELIVERIES = ("resources", "positions", "cameras", "party", "services")
OPEN311_JURISDICTION = "longhua"


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- scratch platform ----------------------------------------------------------------------


@contextmanager
def scratch_database(name: str, keep: bool = False):
    """A new, empty source database ``name`` for the simulators, dropped afterwards unless
    ``keep`` (as the integration tests' ``scratch_database``)."""
    import psycopg

    from civiclake.settings import Settings

    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    try:
        yield name
    finally:
        if not keep:
            with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
                conn.execute(f"drop database if exists {name} with (force)")


def scratch_environment(
    data_dir: Path, database: str, cases_per_day: int | None, scale: float | None
) -> None:
    """Points every ``CIVICLAKE_*`` setting a job may read (``get_settings()`` included) at the
    scratch folder and database, never at ``var/``."""
    from civiclake.settings import PROJECT_ROOT

    for name in ("CIVICLAKE_LAKE_PATH", "CIVICLAKE_MARTS_DIR", "CIVICLAKE_MODELS_DIR"):
        os.environ.pop(name, None)
    os.environ["CIVICLAKE_DATA_DIR"] = str(data_dir)
    os.environ["CIVICLAKE_PG_SOURCES_DB"] = database
    # The sampled days are days of the year, not a source's first delivery with its own
    # history (the care-visit export would add the visits of this many days before it);
    # the sources that keep history are given theirs here explicitly.
    os.environ["CIVICLAKE_SIM_HISTORY_DAYS"] = "0"
    os.environ.setdefault("CIVICLAKE_JARS_DIR", str(PROJECT_ROOT / "var" / "jars"))
    if cases_per_day is not None:
        os.environ["CIVICLAKE_SIM_CASES_PER_DAY"] = str(cases_per_day)
    if scale is not None:
        os.environ["CIVICLAKE_SIM_SCALE"] = str(scale)


# --- what a run did ------------------------------------------------------------------------


@dataclass
class Run:
    """One ingest run of one logical date, and the simulation that fed it."""

    label: str
    day: date
    simulate_s: float
    ingest_s: float
    source: int
    bronze: int
    silver: int
    quarantined: int
    duplicates: int
    jvm_peak_mib: float | None
    estimated: bool = False
    # Source rows per silver table, and pages for an API: where the run's rows came from.
    detail: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.source / self.ingest_s if self.ingest_s else 0.0


@dataclass
class FamilyYear:
    name: str
    definition: str
    runs: list[Run] = field(default_factory=list)
    year: Run | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    jvm_start_s: float = 0.0
    spark_version: str = ""


def bronze_rows(settings) -> dict[str, int]:
    """Rows per bronze table, from the Delta log's file statistics (no Spark job)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    root = Path(settings.lake) / "bronze"
    counts = {}
    for folder in sorted(root.glob("*/_delta_log")):
        actions = pa.table(DeltaTable(str(folder.parent)).get_add_actions(flatten=True))
        counts[folder.parent.name] = int(pc.sum(actions["num_records"]).as_py() or 0)
    return counts


class JvmMemory:
    """The Spark JVM's peak resident memory since the last reset (Linux /proc; None elsewhere)."""

    def __init__(self, spark):
        try:
            self.pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
        except Exception:  # noqa: BLE001 - a JVM without ProcessHandle: no memory figures
            self.pid = None

    def reset(self) -> None:
        if self.pid is None:
            return
        with suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # 5: reset the peak RSS

    def peak_mib(self) -> float | None:
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


class Ingest:
    """Runs a family's ingest of one date as the CLI does, and measures it."""

    def __init__(self, spark, settings):
        self.spark, self.settings = spark, settings
        self.memory = JvmMemory(spark)

    def run(self, label: str, day: date, simulate_s: float, job: Callable[[], object]) -> Run:
        before = bronze_rows(self.settings)
        self.memory.reset()
        started = time.perf_counter()
        result = job()
        seconds = time.perf_counter() - started
        peak = self.memory.peak_mib()
        after = bronze_rows(self.settings)
        if result.failed_files:
            raise RuntimeError(f"{result.family} {day}: files not loaded: {result.failed_files}")
        # Tables a job computes from what it read (a camera clip's detections and events) are
        # not source rows; they are shown in the run's detail.
        read = [t for t in result.tables if t.table not in computed_tables()]
        for t in result.tables:
            accounted = t.silver_rows + t.quarantined_rows + t.duplicate_rows
            if t.source_rows != accounted:  # record_batch refuses this already; say it here too
                raise RuntimeError(f"{t.table} {day} does not reconcile: {t.source_rows} != {accounted}")
        run = Run(
            label=label,
            day=day,
            simulate_s=simulate_s,
            ingest_s=seconds,
            source=sum(t.source_rows for t in read),
            bronze=sum(after.values()) - sum(before.values()),
            silver=sum(t.silver_rows for t in read),
            quarantined=sum(t.quarantined_rows for t in read),
            duplicates=sum(t.duplicate_rows for t in read),
            jvm_peak_mib=peak,
            detail=", ".join(
                f"{t.table} {t.source_rows:,}"
                + (f" in {t.pages.fetched} pages" if t.pages else "")
                + ("" if t in read else " (computed)")
                for t in result.tables
            ),
        )
        log.info(
            "%s %s %s: %d source rows in %.1f s (simulated in %.1f s)",
            result.family,
            label,
            day,
            run.source,
            seconds,
            simulate_s,
        )
        return run


def computed_tables() -> set[str]:
    """Silver tables a family's job computes rather than reads: a clip's detections and events."""
    from civiclake.frames import tables as camera_tables

    return set(camera_tables.TABLES) - {camera_tables.CLIPS}


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = action()
    return time.perf_counter() - started, out


# --- families whose source keeps its history ---------------------------------------------------


def _simulate_database_family(name: str, settings, day: date, history_days: int) -> None:
    """The family's PostgreSQL system up to ``day`` (after ``history_days`` before it). The
    governance system also holds the weather warnings it received each day; the residents'
    posts through the intake API (the family's other simulated input) need that service
    running and are left out."""
    from importlib import import_module

    import_module(f"simulators.{name}").simulate_day(day, settings, history_days=history_days)
    if name == "governance":
        from simulators import weather

        for current in _days(day - timedelta(days=history_days), day):
            weather.simulate_day(current, settings)


def _open311_dataset(settings, first: date, last: date):
    """The simulated Longhua Open311 channel over ``first`` … ``last`` (as ``civiclake serve
    open311 --dataset longhua`` makes it), with each answer's entries kept once computed: the
    simulator recomputes every request of the year for each page, which is the server's
    cost, not the ingest's."""
    from simulators.open311_server import LonghuaDataset

    class PreparedDataset(LonghuaDataset):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._answers: dict = {}

        def entries(self, as_of):
            if as_of not in self._answers:
                self._answers[as_of] = super().entries(as_of)
            return self._answers[as_of]

    return PreparedDataset(first, last, seed=settings.seed, per_day=max(1, settings.sim_cases_per_day // 5))


def history_source_year(
    name: str, ingest: Ingest, settings, first: date, last: date, increments: int, stack: ExitStack
) -> FamilyYear:
    from civiclake.jurisdiction import load_jurisdiction

    increments = max(0, min(increments, (last - first).days))
    bulk_day = last - timedelta(days=increments)
    bulk_days = (bulk_day - first).days + 1
    kind = "Open311 API" if name == "open311" else "PostgreSQL database"
    family = FamilyYear(
        name,
        f"{kind}: {bulk_days} days ({first} … {bulk_day}) in one first extraction, "
        f"then {increments} daily run(s) by watermark",
    )
    spark = ingest.spark
    if name == "open311":
        from simulators.open311_server import create_app, serve_in_thread
        from spark_jobs import ingest_open311 as job

        zone = ZoneInfo(load_jurisdiction(OPEN311_JURISDICTION).timezone)
        dataset = _open311_dataset(settings, first, last)

        def prepare(day: date) -> None:
            dataset.entries(datetime.combine(day + timedelta(days=1), datetime.min.time(), zone))

        url = stack.enter_context(serve_in_thread(create_app(dataset)))
        family.notes.append(
            f"the simulated Longhua Open311 server, in the family's process at {url}: "
            f"{dataset.per_day} requests reported a day; simulate = computing the window's answer"
        )

        def simulate(day: date, history_days: int) -> None:
            prepare(day)  # the server's answer covers every day up to the window's end

        def ingest_day(day: date):
            return job.run(spark, settings, day, url, OPEN311_JURISDICTION)

    else:
        from importlib import import_module

        job = import_module(f"spark_jobs.ingest_{name}")

        def simulate(day: date, history_days: int) -> None:
            _simulate_database_family(name, settings, day, history_days)

        def ingest_day(day: date):
            return job.run(spark, settings, day)

        if name == "governance":
            family.notes.append("with the weather warnings of every day; without intake-API posts")

    for n, day in enumerate(_days(bulk_day, last)):
        sim_s, _ = _timed(lambda day=day, n=n: simulate(day, bulk_days - 1 if n == 0 else 0))
        label = "first extraction" if n == 0 else "daily run"
        family.runs.append(ingest.run(label, day, sim_s, lambda day=day: ingest_day(day)))
    family.year = _total(family.runs, "year", last)
    daily = [r for r in family.runs if r.label == "daily run"]
    if daily:
        per_day = statistics.mean(r.ingest_s for r in daily)
        total_days = (last - first).days + 1
        family.notes.append(
            f"as {total_days} daily runs instead of one first extraction: ≈ {per_day * total_days:,.0f} s "
            f"({per_day:.1f} s a daily run)"
        )
    return family


def _total(runs: list[Run], label: str, day: date) -> Run:
    peaks = [r.jvm_peak_mib for r in runs if r.jvm_peak_mib is not None]
    return Run(
        label=label,
        day=day,
        simulate_s=sum(r.simulate_s for r in runs),
        ingest_s=sum(r.ingest_s for r in runs),
        source=sum(r.source for r in runs),
        bronze=sum(r.bronze for r in runs),
        silver=sum(r.silver for r in runs),
        quarantined=sum(r.quarantined for r in runs),
        duplicates=sum(r.duplicates for r in runs),
        jvm_peak_mib=max(peaks) if peaks else None,
    )


# --- families delivered a day at a time ------------------------------------------------------


def _simulate_delivery(name: str, settings, day: date) -> str | None:
    """The family's delivery of ``day``; a reason when nothing could be delivered."""
    from importlib import import_module

    delivered = import_module(f"simulators.{name}").simulate_day(day, settings)
    return getattr(delivered, "skipped", None) or None


def _ingest_delivery(name: str, spark, settings, day: date):
    from spark_jobs import ingest_cameras, ingest_exports, ingest_positions, ingest_resources

    jobs = {
        "resources": lambda: ingest_resources.run(spark, settings, day),
        "positions": lambda: ingest_positions.run(spark, settings, day),
        "cameras": lambda: ingest_cameras.run(spark, settings, day),
        "party": lambda: ingest_exports.run(spark, settings, day, "party"),
        "services": lambda: ingest_exports.run(spark, settings, day, "services"),
    }
    return jobs[name]()


def daily_delivery_year(
    name: str, ingest: Ingest, settings, first: date, last: date, sample: int
) -> FamilyYear:
    total_days = (last - first).days + 1
    sample = max(1, min(sample, total_days))
    sampled_first = last - timedelta(days=sample - 1)
    whole = sample == total_days
    what = {
        "resources": "daily full registry snapshots (SCD2)",
        "positions": "hourly position files, a day's 24",
        "cameras": "a day's camera clips and frames",
        "party": "daily Excel/CSV exports",
        "services": "daily Excel/CSV exports",
    }[name]
    definition = f"{what}: one run a day; " + (
        f"all {total_days} days ingested"
        if whole
        else f"{sample} days ingested ({sampled_first} … {last}), the year ≈ the first "
        f"+ {total_days - 1} × the mean of the other {sample - 1}"
        if sample > 1
        else f"1 day ingested ({last}), the year ≈ {total_days} × that day"
    )
    family = FamilyYear(name, definition)
    for n, day in enumerate(_days(sampled_first, last)):
        sim_s, skipped = _timed(lambda day=day: _simulate_delivery(name, settings, day))
        if skipped:
            family.skipped = skipped
            return family
        label = "first delivery" if n == 0 else "daily run"
        family.runs.append(
            ingest.run(label, day, sim_s, lambda day=day: _ingest_delivery(name, ingest.spark, settings, day))
        )
    if whole:
        family.year = _total(family.runs, "year", last)
    else:
        family.year = _extrapolated(family.runs, total_days, last)
    steady = family.runs[1:] or family.runs
    per_run = statistics.mean(r.ingest_s for r in steady)
    per_day_rows = statistics.mean(r.source for r in steady)
    family.notes.append(
        f"a daily run: {per_run:.1f} s for {per_day_rows:,.0f} source rows; "
        f"365 of them ≈ {family.runs[0].ingest_s + 364 * per_run:,.0f} s"
    )
    return family


def _extrapolated(runs: list[Run], total_days: int, last: date) -> Run:
    """The first run plus ``total_days - 1`` times the mean of the others (or ``total_days``
    times the only one)."""
    first, steady = runs[0], runs[1:] or runs[:1]
    rest = total_days - 1 if runs[1:] else total_days
    base = first if runs[1:] else None

    def year(attribute: str) -> float:
        mean = statistics.mean(getattr(r, attribute) for r in steady)
        return (getattr(base, attribute) if base else 0) + rest * mean

    peaks = [r.jvm_peak_mib for r in runs if r.jvm_peak_mib is not None]
    return Run(
        label="year",
        day=last,
        simulate_s=year("simulate_s"),
        ingest_s=year("ingest_s"),
        source=round(year("source")),
        bronze=round(year("bronze")),
        silver=round(year("silver")),
        quarantined=round(year("quarantined")),
        duplicates=round(year("duplicates")),
        jvm_peak_mib=max(peaks) if peaks else None,
        estimated=True,
    )


# --- report ---------------------------------------------------------------------------------


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def print_report(years: list[FamilyYear], header: list[str]) -> None:
    columns = [
        "family",
        "run",
        "source",
        "bronze",
        "silver",
        "quarant.",
        "dupl.",
        "sim s",
        "ingest s",
        "rows/s",
        "JVM MiB",
    ]
    lines = []
    for family in years:
        if family.skipped:
            lines.append([family.name, f"skipped: {family.skipped}"] + [""] * 9)
            continue
        for run in [*family.runs, family.year]:
            mark = "≈" if run.estimated else ""
            label = (
                "YEAR" + (" (est.)" if run.estimated else "")
                if run.label == "year"
                else f"{run.label} {run.day}"
            )
            lines.append(
                [
                    family.name,
                    label,
                    f"{mark}{run.source:,}",
                    f"{mark}{run.bronze:,}",
                    f"{mark}{run.silver:,}",
                    f"{mark}{run.quarantined:,}",
                    f"{mark}{run.duplicates:,}",
                    f"{mark}{run.simulate_s:,.1f}",
                    f"{mark}{run.ingest_s:,.1f}",
                    f"{run.rows_per_s:,.0f}" if run.rows_per_s >= 100 else f"{run.rows_per_s:.1f}",
                    "" if run.jvm_peak_mib is None else f"{run.jvm_peak_mib:,.0f}",
                ]
            )
    widths = [
        max(len(c) for c in col)
        for col in zip(columns, *[row for row in lines if len(row) == 11], strict=True)
    ]
    print()
    for text in header:
        print(text)
    print()
    print(_row(columns, widths))
    print(_row(["-" * w for w in widths], widths))
    previous = None
    for cells in lines:
        if len(cells) != len(columns) or cells[1].startswith("skipped"):
            print(f"{cells[0]}  {cells[1]}")
            continue
        if previous is not None and cells[0] != previous:
            print()
        previous = cells[0]
        print(_row(cells, widths))
    print()
    print("What a year is, per family:")
    for family in years:
        print(f"  {family.name}: {family.definition}")
        for note in family.notes:
            print(f"      {note}")
        for run in family.runs[:1]:
            print(f"      {run.label} {run.day}: {run.detail}")
    print()
    print(
        "source = rows the run read from the source (the reconciliation's source term); bronze = rows it "
        "added to bronze (Open311: with the batch's services list); silver = rows the silver MERGE (SCD2: new versions + unchanged) landed; "
        "source = silver + quarantined + duplicates for every table of every run; rows/s = source / "
        "ingest s; JVM MiB = the Spark JVM's peak resident memory during the run(s)."
    )


# --- main -------------------------------------------------------------------------------------


def _family_order(requested: list[str] | None) -> tuple[list[str], list[str]]:
    """The families to run, in families.toml order, with the families their ingest reads first."""
    from civiclake.families import families

    registry = families()
    names = list(registry) if requested is None else requested
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise SystemExit(f"unknown families {unknown}; civiclake/families.toml has {', '.join(registry)}")
    wanted, added = set(names), []
    for name in names:
        for earlier in registry[name].after:
            if earlier not in wanted:
                wanted.add(earlier)
                added.append(earlier)
    return [n for n in registry if n in wanted], added


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=365, help="days in the year (default 365)")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=date(2026, 11, 25),
        help="the year's last day (the demo's day)",
    )
    parser.add_argument(
        "--cases-per-day", type=int, default=None, help="CIVICLAKE_SIM_CASES_PER_DAY (default: the settings')"
    )
    parser.add_argument(
        "--scale", type=float, default=None, help="CIVICLAKE_SIM_SCALE (default: the settings')"
    )
    parser.add_argument("--families", default=None, help="comma-separated families (default: all)")
    parser.add_argument(
        "--increments",
        type=int,
        default=1,
        help="daily runs after the first extraction (database and API families)",
    )
    parser.add_argument(
        "--sample-days", type=int, default=3, help="days ingested of a family delivered a day at a time"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch data folder and database")
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    _configure_logging()
    requested = [f.strip() for f in args.families.split(",")] if args.families else None
    order, added = _family_order(requested)
    first = args.date - timedelta(days=args.days - 1)

    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="year-", dir=WORK_ROOT))
    database = f"civiclake_yearbench_{os.getpid()}"
    scratch_environment(data_dir, database, args.cases_per_day, args.scale)
    started = time.perf_counter()
    try:
        with scratch_database(database, keep=args.keep):
            from civiclake.settings import Settings

            settings = Settings()
            years = []
            for name in order:
                log.info("family %s", name)
                years.append(
                    in_own_process(family_year, name, first, args.date, args.increments, args.sample_days)
                )
            load = os.getloadavg()
            header = [
                f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} "
                f"{load[1]:.2f} {load[2]:.2f} at the end; nice {os.nice(0)}; spark "
                f"{next((y.spark_version for y in years if y.spark_version), '?')}, master "
                f"{settings.spark_master}, driver memory {settings.spark_driver_memory}",
                f"year: {args.days} days {first} … {args.date}; {settings.sim_cases_per_day} cases a day, "
                f"sim_scale {settings.sim_scale}; seed {settings.seed}",
                f"scratch: {data_dir}, database {database}; wall time {time.perf_counter() - started:,.0f} s",
                "each family in its own process and JVM; its JVM start (which a DAG task pays each run, "
                "not counted below): "
                + ", ".join(f"{y.name} {y.jvm_start_s:.1f} s" for y in years if y.jvm_start_s),
            ]
            if added:
                header.append(f"added because a requested family's ingest reads them: {', '.join(added)}")
            print_report(years, header)
    finally:
        if args.keep:
            print(f"kept: {data_dir} and database {database}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def in_own_process(function, *args):
    """``function(*args)`` in a new Python process (spawned: a JVM of its own, as each DAG task
    has), its result returned here."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def family_year(name: str, first: date, last: date, increments: int, sample_days: int) -> FamilyYear:
    """One family's year, in this process with its own Spark session (the environment points
    at the scratch platform)."""
    _configure_logging()
    if name not in HISTORY_SOURCES and name not in DAILY_DELIVERIES:
        return FamilyYear(name, "", skipped="this bench has no way to give it a year yet")
    from civiclake.settings import Settings
    from civiclake.spark import spark_session

    settings = Settings()
    with ExitStack() as stack:
        jvm_start_s, spark = _timed(lambda: spark_session(settings, f"bench-year-ingest-{name}"))
        stack.callback(spark.stop)
        ingest = Ingest(spark, settings)
        if name in HISTORY_SOURCES:
            family = history_source_year(name, ingest, settings, first, last, increments, stack)
        else:
            family = daily_delivery_year(name, ingest, settings, first, last, sample_days)
        family.jvm_start_s, family.spark_version = jvm_start_s, spark.version
        family.notes.append(f"python process peak RSS {_self_peak_mib():,.0f} MiB")
        return family


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "httpx", "urllib3", "simulators", "civiclake", "spark_jobs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _self_peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
