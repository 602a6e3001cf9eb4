"""civiclake_daily: one logical day through the whole platform.

sources (one task group per source family: [simulate ->] ingest -> quality gate)
-> case funnel (every channel in one silver case table) -> classifier (train only when the
weekly model is missing or stale) -> score and dispatch -> joint operations the day's
conditions start -> deliver the orders (outbox) -> escalation check -> joint operations
followed up [-> simulated departments -> simulated reviewers] -> marts prepare -> dbt build by layer (cosmos) -> marts publish
(atomic swap) -> summary, and beside it brief_push (the leaders' brief by e-mail) and
marts_warm (Superset's chart-data cache filled for every role from the new marts).

Source families: those of ``civiclake/families.toml``, in its order (governance and city
management from PostgreSQL by watermark, basic-resource registry snapshots as SCD2, party
building and people services from Excel/CSV exports, Open311 from a GeoReport v2 API at
``CIVICLAKE_OPEN311_URL``); each runs ``civiclake simulate|ingest|quality <family>``.
With ``CIVICLAKE_SIMULATE=true`` (the embedded default) each simulated family is first
given the day's data by its simulator; a deployment on the real systems sets it to ``false``.

Every step is the ``civiclake`` CLI of the core environment (``.venvs/core``), run as a
subprocess (with ``--date {{ ds }}`` where the step is about one day); nothing from Spark or dbt is imported here, and
nothing runs at import time except reading the source families and the dbt project's name.
The Spark steps share one warm Spark driver where ``CIVICLAKE_SPARK_DRIVER_SOCKET`` names one
(``infra/airflow/env.sh``; ``start.sh`` and ``run_dag.sh`` start it): the task's process sends
its command there rather than starting a JVM of its own (``civiclake/cli/driver.py``).

dbt runs one ``dbt build`` per layer of ``dbt/selectors.yml`` (staging with the seeds,
intermediate, marts), each with the layer's tests, through cosmos' build operator: a
dbt process costs 15-20 s to start, which one task per model paid about fifty times.

Write-audit-publish: dbt builds and tests a copy of the last good build; only when
every dbt task succeeded does ``marts publish`` write the marts alone to a new published
DuckDB file (atomic rename) and keep the build as the last good one, so a failed run
leaves yesterday's marts readable.

Schedule: data intervals of one UTC day; the run for day D starts at D+1 00:00 UTC
(08:00 in Shenzhen), when D is complete in both calendars, and ``ds`` is D.
Secrets and ``CIVICLAKE_*`` settings come from the process environment
(``infra/airflow/env.sh`` sources ``var/secrets.env``).

Backfill. Past days are not caught up by the scheduler (``catchup=False``); they are
backfilled on purpose, with Airflow 3's backfill (the CLI below, or the UI's trigger form,
"Run Backfill"), from-date and to-date both inclusive, one run per day::

    airflow backfill create --dag-id civiclake_daily --from-date 2026-11-16 --to-date 2026-11-22 --max-active-runs 1

A day that has run already is left alone unless ``--reprocess-behavior completed`` (every day
again) or ``failed`` (failed days again) is added; ``--dry-run`` lists the logical dates
first. ``--max-active-runs 1`` is needed: Airflow counts a backfill's runs apart from the DAG's
``max_active_runs`` (a backfill runs 10 at once by default), and the days' Spark jobs and the
marts' one DuckDB writer work one at a time. With it the runs go in date order (the run of
the backfill's last day publishes the marts as of that day; a backfill of an older week
leaves them so until the next daily run). The DAG must be unpaused for them to start.

Each task is idempotent for its data interval, whatever order the days come in: an
ingest extracts a day once (its window is recorded) and reprocesses bronze on a rerun, and
MERGEs never roll a row back to an older version; a registry snapshot applied before
changes nothing, and one older than the newest applied rebuilds the SCD2 history from the
snapshots in bronze, or refuses, naming them, when bronze retention removed one
(``civiclake/lake/scd2.py``). So a second backfill of the same days leaves silver as the
first one left it (``tests/integration/test_backfill.py``). A backfill's runs and the scheduled
one may overlap: each task runs one instance at a time across runs
(``max_active_tis_per_dag=1``), so two runs never write a family's tables at once.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TaskGroup, chain, dag, task
from cosmos import ProfileConfig
from cosmos.constants import InvocationMode, TestIndirectSelection
from cosmos.operators.local import DbtBuildLocalOperator

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"
DBT = CORE_VENV / "bin" / "dbt"
DBT_PROJECT = Path(os.environ.get("CIVICLAKE_DBT_PROJECT_DIR") or ROOT / "dbt")
DBT_TARGET = os.environ.get("CIVICLAKE_DBT_TARGET", "duckdb")
SIMULATE = os.environ.get("CIVICLAKE_SIMULATE", "true").lower() in ("1", "true", "yes")
# The selectors of dbt/selectors.yml, in build order.
DBT_LAYERS = ("staging", "intermediate", "marts")
# The source families' registry, shared with the CLI (read here as plain TOML).
FAMILIES_FILE = ROOT / "civiclake" / "families.toml"
# Exit code with which `civiclake brief send` and `civiclake marts warm` say "nothing to
# do here" (no SMTP server configured; no Superset serving these marts); the bash task
# then ends as skipped instead of failed.
SKIP_EXIT_CODE = 99
# What the dbt project reads, mirroring civiclake.marts.dbt_environment (the core
# package is not importable here): the Delta lake and the write-audit-publish build
# file, as absolute paths (cosmos runs dbt from a temporary copy of the project).
_DATA_DIR = Path(os.environ.get("CIVICLAKE_DATA_DIR") or ROOT / "var")
_MARTS_DIR = Path(os.environ.get("CIVICLAKE_MARTS_DIR") or _DATA_DIR / "marts")
DBT_ENV = {
    "CIVICLAKE_LAKE_PATH": os.environ.get("CIVICLAKE_LAKE_PATH") or str(_DATA_DIR / "lake"),
    "CIVICLAKE_DBT_DUCKDB_PATH": os.environ.get("CIVICLAKE_DBT_DUCKDB_PATH")
    or str(_MARTS_DIR / "build" / "civiclake.duckdb"),
}


def _dbt_profile_name(project_dir: Path) -> str:
    """The `profile:` of dbt_project.yml (a plain read; no dbt import)."""
    try:
        text = (project_dir / "dbt_project.yml").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"dbt project not found at {project_dir} (no dbt_project.yml); "
            "set CIVICLAKE_DBT_PROJECT_DIR or add the project under dbt/"
        ) from exc
    match = re.search(r"^profile:\s*['\"]?([\w-]+)", text, flags=re.MULTILINE)
    return match.group(1) if match else "civiclake"


def _cli(*args: str, dated: bool = True) -> str:
    """Bash command running the civiclake CLI, for the run's logical date when ``dated``."""
    date = ["--date", "{{ ds }}"] if dated else []
    return " ".join([shlex.quote(str(CIVICLAKE)), *map(shlex.quote, args), *date])


def _cli_task(task_id: str, *args: str, doc: str, dated: bool = True, **task_kwargs):
    """A bash task running ``civiclake <args>``; steps that work on files or on silver as it
    stands (quality gates, write-audit-publish, the cache warm-up) pass ``dated=False``."""

    @task.bash(task_id=task_id, cwd=str(ROOT), doc_md=doc, **task_kwargs)
    def _run() -> str:
        return _cli(*args, dated=dated)

    return _run()


def _source_families(path: Path) -> dict[str, dict]:
    """The families of civiclake/families.toml, in its order (a plain read; no civiclake import)."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"source family registry not found at {path}; set CIVICLAKE_HOME to the project root"
        ) from exc


def _ingest_options(family: dict) -> list[str]:
    """The options the run passes to `civiclake ingest <family>`: each from its environment
    variable, else the registry's default."""
    args = []
    for name, option in family.get("ingest_options", {}).items():
        args += [f"--{name}", os.environ.get(option["env"], option["default"])]
    return args


def _source_group(name: str, family: dict) -> dict:
    """[simulate ->] ingest -> quality of one family; simulate and ingest run with --date {{ ds }},
    the quality gate checks the family's silver tables as they stand. Returns the ingest and
    quality tasks, for the families that wait for this one."""
    with TaskGroup(name, tooltip=family["title"]):
        steps = []
        if family["simulated"] and SIMULATE:
            steps.append(
                _cli_task("simulate", "simulate", name, doc=f"Simulated {name} source: the day's data.")
            )
            steps += [
                _cli_task(
                    f"simulate_{also}",
                    "simulate",
                    also,
                    doc=f"Simulated {also} input of the {name} system (`civiclake simulate {also}`).",
                )
                for also in family.get("simulate_also", [])
            ]
        steps.append(
            _cli_task(
                "ingest",
                "ingest",
                name,
                *_ingest_options(family),
                doc=f"Spark: {name} source -> Delta bronze -> silver (bad rows to quarantine, reconciled).",
            )
        )
        # No retries: a failed expectation is a finding about the data, not a glitch.
        steps.append(
            _cli_task(
                "quality",
                "quality",
                name,
                doc="Great Expectations on the family's silver tables (read with delta-rs, no Spark).",
                dated=False,
                retries=0,
            )
        )
        chain(*steps)
    return {"ingest": steps[-2], "quality": steps[-1]}


@dag(
    dag_id="civiclake_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # One task at a time: Spark jobs want both cores, and DuckDB has one writer.
    max_active_tasks=1,
    dagrun_timeout=timedelta(hours=3),
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(hours=1),
        # Across runs (a backfill's beside the scheduled one): one instance of a task at a time.
        "max_active_tis_per_dag": 1,
    },
    tags=["civiclake", "governance", "daily"],
    doc_md=__doc__,
)
def civiclake_daily():
    with TaskGroup("sources", tooltip="Every source family into bronze and silver, gated") as sources:
        registry = _source_families(FAMILIES_FILE)
        groups = {name: _source_group(name, family) for name, family in registry.items()}
        # A family whose ingest reads another's silver waits for that family's gate.
        for name, family in registry.items():
            for earlier in family.get("after", []):
                groups[earlier]["quality"] >> groups[name]["ingest"]

    funnel = _cli_task(
        "cases_build",
        "cases",
        "build",
        doc="Spark: every channel's cases (governance, city management, Open311) into one silver "
        "case table with the district's categories (the case funnel).",
    )
    train = _cli_task(
        "classifier_train",
        "classifier",
        "train",
        "--max-age-days",
        "7",
        doc="Train the case classifier on silver cases before the logical date, unless the "
        "weekly DAG (civiclake_weekly_training) registered one in the last 7 days.",
    )
    score = _cli_task(
        "classifier_score",
        "classifier",
        "score",
        doc="Spark batch scoring and dispatch: routing rules, duplicate linking, confident -> "
        "routed automatically, unsure -> review queue.",
    )
    operations_trigger = _cli_task(
        "operations_trigger",
        "operations",
        "trigger",
        doc="Joint operations started by the day's conditions (civiclake/reference/operations/plans): "
        "a cluster of cases or camera events in one area, a weather warning in force; each "
        "condition starts its plan once, its orders through the outbox.",
    )
    deliver = _cli_task(
        "dispatch_deliver",
        "dispatch",
        "deliver",
        doc="Orders for the day's dispatch decisions into the outbox, and every undelivered order "
        "to the departments' queue in the governance system (exactly once per order id).",
    )
    escalate = _cli_task(
        "escalation_check",
        "escalation",
        "check",
        doc="Three-level linkage: cases not accepted in time, or beyond a community's competence, "
        "go up to the street, a street's to the district (civiclake/reference/dispatch/escalation.yaml); "
        "their orders are delivered through the same outbox.",
    )
    operations_follow = _cli_task(
        "operations_follow",
        "operations",
        "follow",
        doc="Joint operations followed up at the close of the day: an order not completed by its "
        "due time goes up once to the plan's escalation department (through the outbox); "
        "each operation's status (running, completed, overdue).",
    )
    manhole_street_bears = _cli_task(
        "manhole_street_bears",
        "manhole",
        "street-bears-due",
        doc="先修后定: every manhole repair still unclaimed N days after it was finished (as of the "
        "close of the day; civiclake/reference/city/settlement.yaml) is borne by its street, written "
        "to the city-management system (repair row + settlement event, one transaction each).",
    )
    acted = [escalate, operations_follow, manhole_street_bears]
    if SIMULATE:
        acted += [
            _cli_task(
                "simulate_departments",
                "simulate",
                "departments",
                doc="Simulated departments accept the orders delivered for the day, handle the "
                "residents' requests and answer them.",
            ),
            _cli_task(
                "simulate_reviews",
                "dispatch",
                "simulate-reviews",
                doc="Simulated reviewers answer the day's review queue (their corrections "
                "become labels for the next training).",
            ),
        ]
    prepare = _cli_task(
        "marts_prepare",
        "marts",
        "prepare",
        doc="Copy the last good build to the build path (write-audit-publish: write).",
        dated=False,
    )

    profile = ProfileConfig(
        profile_name=_dbt_profile_name(DBT_PROJECT),
        target_name=DBT_TARGET,
        profiles_yml_filepath=DBT_PROJECT / "profiles.yml",
    )
    with TaskGroup("dbt", tooltip="dbt build by layer: models, unit and data tests") as dbt_build:
        chain(
            *(
                DbtBuildLocalOperator(
                    task_id=layer,
                    doc_md=f"`dbt build --selector {layer}` (dbt/selectors.yml): the layer's models "
                    "and tests; a test reading several layers runs with the last of them.",
                    project_dir=DBT_PROJECT,
                    profile_config=profile,
                    dbt_executable_path=str(DBT),
                    invocation_mode=InvocationMode.SUBPROCESS,
                    selector=layer,
                    indirect_selection=TestIndirectSelection.BUILDABLE.value,
                    env=DBT_ENV,
                    install_deps=False,
                    # Marts as of the run's logical date, not the lake's newest event.
                    vars={"as_of": "{{ ds }}"},
                    retries=0,  # a failing dbt test is not fixed by retrying
                )
                for layer in DBT_LAYERS
            )
        )

    publish = _cli_task(
        "marts_publish",
        "marts",
        "publish",
        doc="Publish the tested build's marts alone with an atomic rename, and keep the build "
        "as the last good one (write-audit-publish: publish).",
        dated=False,
    )
    summary = _cli_task("summary", "summary", doc="Print the run summary.")
    brief_push = _cli_task(
        "brief_push",
        "brief",
        "send",
        "--skip-exit-code",
        str(SKIP_EXIT_CODE),
        doc="E-mail each leader of dashboards/users.yaml the day's brief of their own area from "
        "the published marts (once per leader and day; a rerun sends nothing new). Skipped, with "
        "a log line, when no SMTP server is configured (CIVICLAKE_SMTP_HOST unset).",
        skip_on_exit_code=SKIP_EXIT_CODE,
    )

    warm = _cli_task(
        "marts_warm",
        "marts",
        "warm",
        "--skip-exit-code",
        str(SKIP_EXIT_CODE),
        doc="Fill Superset's chart-data cache for every civiclake role from the just-published "
        "marts, so that the command screens' first refresh needs no query. Skipped, with a log "
        "line, when Superset is not set up on this host or serves other marts.",
        skip_on_exit_code=SKIP_EXIT_CODE,
        dated=False,
    )

    chain(
        sources,
        funnel,
        train,
        score,
        operations_trigger,
        deliver,
        *acted,
        prepare,
        dbt_build,
        publish,
        summary,
    )
    # Beside the summary, not after it: the brief and the warm-up need only the published marts.
    publish >> [brief_push, warm]


civiclake_daily()
