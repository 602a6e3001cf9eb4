"""civiclake_maintenance: the lake's retention, OPTIMIZE and VACUUM, once a week.

wait_for_daily -> retention -> optimize -> vacuum, each step the ``civiclake maintain`` CLI of
the core environment run as a subprocess with ``--date {{ ds }}`` (civiclake/lake/retention.py):

* retention: table properties first (no Delta statistics on personal columns, the history's
  span), then landing exports of ingested batches and bronze partitions past their retention
  (``CIVICLAKE_RAW_EXPORT_RETENTION_DAYS``, ``CIVICLAKE_BRONZE_RETENTION_DAYS``);
* optimize: compaction of the tables and partitions with more small files than the threshold
  (``CIVICLAKE_OPTIMIZE_MIN_SMALL_FILES`` under ``CIVICLAKE_OPTIMIZE_SMALL_FILE_MB``), the rest
  left alone;
* vacuum: files only versions older than ``CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS`` need.

Schedule: Sundays 00:00 UTC (08:00 in Shenzhen), the moment civiclake_daily starts its run for
Saturday. Maintenance must not rewrite tables while the day's jobs write them, so it first waits
for that daily run to end, in success or failure (``wait_for_daily``: its logical date is one
day before this run's), rescheduling itself rather than holding a worker slot. When that run has
not ended within 20 hours, or there is none (the daily DAG paused), the wait fails and the week's
maintenance does not run: the failed task says so in the UI. A backfill of civiclake_daily started by hand during maintenance is not waited for:
Delta's optimistic concurrency makes a conflicting OPTIMIZE fail (it is retried once), and VACUUM
never deletes files younger than the history it keeps.

Erasure requests (``civiclake erase``) are not part of the schedule: an operator runs them.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import CronTriggerTimetable, chain, dag, task

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"
DAILY_DAG = "civiclake_daily"
STEPS = ("retention", "optimize", "vacuum")


@dag(
    dag_id="civiclake_maintenance",
    schedule=CronTriggerTimetable("0 0 * * 0", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 4, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=6),
    },
    tags=["civiclake", "maintenance", "weekly"],
    doc_md=__doc__,
)
def civiclake_maintenance():
    wait_for_daily = ExternalTaskSensor(
        task_id="wait_for_daily",
        external_dag_id=DAILY_DAG,
        external_task_id=None,  # the whole run
        execution_delta=timedelta(days=1),  # the daily run that started with this one
        allowed_states=["success", "failed"],
        mode="reschedule",
        poke_interval=300,
        timeout=int(timedelta(hours=20).total_seconds()),
        retries=0,
    )

    def step(name: str):
        @task.bash(task_id=name, cwd=str(ROOT))
        def maintain() -> str:
            return f"{shlex.quote(str(CIVICLAKE))} maintain {name} --date {{{{ ds }}}}"

        return maintain()

    chain(wait_for_daily, *[step(name) for name in STEPS])


civiclake_maintenance()
