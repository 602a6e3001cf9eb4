"""civiclake_weekly_training: retrain the case classifier once a week.

Trains on every silver case reported before the logical date, with the review queue's
corrections as labels, and registers the model as version ``v<date>``; the daily
``classifier score`` then uses the newest registered version. The daily DAG trains only
when no model from the last 7 days is registered (a new platform, or a missed week).

Schedule: Mondays 00:00 UTC (08:00 in Shenzhen), for the week that ended.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"


@dag(
    dag_id="civiclake_weekly_training",
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-science",
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    tags=["civiclake", "ml", "weekly"],
    doc_md=__doc__,
)
def civiclake_weekly_training():
    @task.bash(task_id="classifier_train", cwd=str(ROOT))
    def classifier_train() -> str:
        """Train on silver history before the logical date and register the model."""
        # The run's data interval ends on the Monday: train on everything before it.
        return f"{shlex.quote(str(CIVICLAKE))} classifier train --date {{{{ data_interval_end | ds }}}}"

    classifier_train()


civiclake_weekly_training()
