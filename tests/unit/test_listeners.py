"""Every server the project starts listens on loopback unless a deployment says otherwise.

Reads the environment ``infra/airflow/env.sh`` produces (in a clean shell, with stand-in
secrets), runs ``infra/airflow/start.sh`` against a stand-in ``airflow`` that records its
arguments, and checks the defaults of the Open311 server and the local Spark driver.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import typer.main
import yaml

from civiclake.cli import app
from civiclake.settings import PROJECT_ROOT
from civiclake.spark import driver_listener_conf

AIRFLOW = PROJECT_ROOT / "infra" / "airflow"
AIRFLOW_CONFIG = next(
    (PROJECT_ROOT / ".venvs" / "airflow" / "lib").glob(
        "python3*/site-packages/airflow/config_templates/config.yml"
    ),
    None,
)
LOOPBACK = "127.0.0.1"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A shell environment without this machine's Airflow settings or secrets."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        # A project root without var/secrets.env, so the stand-ins below are used.
        "CIVICLAKE_HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        # The stand-ins run no Spark: start.sh starts no warm Spark driver for them.
        "CIVICLAKE_SPARK_WARM_DRIVER": "false",
        **{
            name: "stand-in"
            for name in (
                "AIRFLOW_ADMIN_PASSWORD",
                "AIRFLOW_JWT_SECRET",
                "AIRFLOW_PG_PASSWORD",
                "CIVICLAKE_PG_PASSWORD",
            )
        },
        **extra,
    }


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    script = f'source "{AIRFLOW / "env.sh"}" && env -0'
    done = subprocess.run(
        ["bash", "-c", script], env=clean_env(home, **extra), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def test_airflow_listeners_default_to_loopback_and_no_worker_log_server(tmp_path):
    env = airflow_env(tmp_path)
    assert env["AIRFLOW__API__HOST"] == LOOPBACK
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == LOOPBACK
    assert env["AIRFLOW__API__BASE_URL"].startswith(f"http://{LOOPBACK}:")
    # Airflow 3.3's log server binds every interface whatever the settings: it is not started.
    assert env["AIRFLOW_SCHEDULER_ARGS"] == "--skip-serve-logs"


def test_a_deployment_can_choose_other_listeners(tmp_path):
    env = airflow_env(tmp_path, AIRFLOW_BIND_HOST="10.0.0.5", AIRFLOW_SERVE_WORKER_LOGS="true")
    assert env["AIRFLOW__API__HOST"] == "10.0.0.5"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "10.0.0.5"
    assert env["AIRFLOW_SCHEDULER_ARGS"] == ""


@pytest.mark.skipif(
    AIRFLOW_CONFIG is None, reason="no Airflow environment (.venvs/airflow) to check names in"
)
def test_the_host_settings_are_options_of_the_installed_airflow(tmp_path):
    options = yaml.safe_load(AIRFLOW_CONFIG.read_text(encoding="utf-8"))
    for name in ("AIRFLOW__API__HOST", "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"):
        _, section, key = name.lower().split("__")
        assert key in options[section]["options"], name
    # If a later Airflow gives the log server a host option, env.sh should set it instead.
    assert not [k for k in options["logging"]["options"] if "log_server_host" in k]


def test_start_passes_skip_serve_logs_to_the_scheduler_only(tmp_path):
    bin_dir = tmp_path / ".venvs" / "airflow" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    fake = bin_dir / "airflow"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >>"{calls}"\n')
    fake.chmod(0o755)
    # The stand-in exits at once, so start.sh reports the api-server gone and exits 1.
    done = subprocess.run(
        ["bash", str(AIRFLOW / "start.sh")],
        env=clean_env(tmp_path, AIRFLOW_START_TIMEOUT="1", AIRFLOW_API_PORT="9"),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr.decode()
    assert sorted(calls.read_text().splitlines()) == [
        "api-server",
        "dag-processor",
        "scheduler --skip-serve-logs",
    ]


def test_open311_server_defaults_to_loopback():
    serve = typer.main.get_command(app).commands["serve"].commands["open311"]
    (host,) = [p for p in serve.params if p.name == "host"]
    assert host.default == LOOPBACK
    assert "--host" not in (PROJECT_ROOT / "infra" / "open311" / "start.sh").read_text()


def test_local_spark_driver_listens_on_loopback_only():
    assert driver_listener_conf("local[2]") == {
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.host": LOOPBACK,
    }
    assert driver_listener_conf("spark://master:7077") == {}
