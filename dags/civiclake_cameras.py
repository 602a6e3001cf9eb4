"""civiclake_cameras: each landing hour of the street cameras, as soon as it is complete.

ingest (``civiclake ingest cameras --date D --hour H``: the hour's clips decoded and scored,
detections and persistent events into silver, no pixels kept) -> case funnel (``civiclake
cases build --date D``: the day's events become cases of the camera channel beside every
other channel's).

The landing hour is the local hour (the jurisdiction's wall clock, ``CIVICLAKE_CAMERA_TIMEZONE``,
Asia/Shanghai by default) in which the run's data interval starts: the run for hour H of day
D is triggered at H+1:10, ten minutes after the hour, when the camera platform has written the
hour's last clips and its manifest. Both steps replace what they wrote for that hour and day,
so a rerun of a run leaves the lake as one run did; one run at a time, because both steps
write the same silver tables. The daily DAG (civiclake_daily) ingests the whole day again in
its cameras task group, which finds the hours done here already in silver and only retries
what was quarantined.

Every step is the ``civiclake`` CLI of the core environment (``.venvs/core``), run as a
subprocess; nothing runs at import time.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, chain, dag, task

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"
TIMEZONE = os.environ.get("CIVICLAKE_CAMERA_TIMEZONE", "Asia/Shanghai")
# Minutes after the end of an hour when its run starts: the platform's late clips and manifest.
AFTER_HOUR_MINUTES = 10
# The landing day and hour of the run: where its data interval starts, on the local clock.
_START = f"data_interval_start.in_timezone({TIMEZONE!r})"
DAY = "{{ " + _START + ".strftime('%Y-%m-%d') }}"
HOUR = "{{ " + _START + ".strftime('%H') }}"


def _cli(*args: str) -> str:
    """Bash command running the civiclake CLI (``args`` may hold Jinja, never a quote)."""
    return " ".join([shlex.quote(str(CIVICLAKE)), *args])


@dag(
    dag_id="civiclake_cameras",
    schedule=CronTriggerTimetable(
        f"{AFTER_HOUR_MINUTES} * * * *", timezone=TIMEZONE, interval=timedelta(hours=1)
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(minutes=40),
    },
    tags=["civiclake", "cameras", "hourly"],
    doc_md=__doc__,
)
def civiclake_cameras():
    @task.bash(task_id="ingest", cwd=str(ROOT))
    def ingest() -> str:
        """Spark: the landing hour's clips -> detections, events and quarantine in silver."""
        return _cli("ingest", "cameras", "--date", DAY, "--hour", HOUR)

    @task.bash(task_id="cases_build", cwd=str(ROOT))
    def cases_build() -> str:
        """Spark: the day's cases of every channel, the new camera events among them."""
        return _cli("cases", "build", "--date", DAY)

    chain(ingest(), cases_build())


civiclake_cameras()
