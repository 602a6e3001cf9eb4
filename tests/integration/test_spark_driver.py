"""The warm Spark driver (infra/spark/driver.sh, civiclake/cli/driver.py) under its clients.

One driver for the module, started by the project's script with a data folder of its own;
each command is the real ``civiclake`` console script in a new process, with a data folder
of its own and ``CIVICLAKE_SPARK_DRIVER_SOCKET`` naming the driver. What a command does with
the lake is the same code as without a driver (the daily DAG's end-to-end run goes through
one: tests/e2e/test_airflow_dag.py); here: that commands use the driver's one session in
their own environment, with their output and exit code, that a command asking for another
session runs in its own, and that a client killed mid-command leaves the driver serving.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from civiclake.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

CLI = PROJECT_ROOT / ".venvs" / "core" / "bin" / "civiclake"
DRIVER_SCRIPT = PROJECT_ROOT / "infra" / "spark" / "driver.sh"
DAY = "2026-11-25"
ON_DRIVER = re.compile(r"running on the warm Spark driver (\S+)")
# A bound for one command here, far above its run on an idle machine.
TIMEOUT_S = 300


def _env(data_dir: Path, socket: Path, **more: str) -> dict[str, str]:
    return os.environ | {
        "CIVICLAKE_DATA_DIR": str(data_dir),
        "CIVICLAKE_JARS_DIR": str(PROJECT_ROOT / "var" / "jars"),
        "CIVICLAKE_SPARK_DRIVER_SOCKET": str(socket),
        **more,
    }


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """The driver's socket and application id; stopped after the module."""
    folder = tmp_path_factory.mktemp("spark-driver")
    socket = folder / "run" / "spark-driver.sock"
    env = _env(folder / "driver-data", socket)
    start = subprocess.run(
        ["bash", str(DRIVER_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert start.returncode == 0, start.stdout + start.stderr
    status = subprocess.run(["bash", str(DRIVER_SCRIPT), "status"], env=env, capture_output=True, text=True)
    yield {"socket": socket, "application": status.stdout.strip(), "log": socket.parent / "spark-driver.log"}
    subprocess.run(["bash", str(DRIVER_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
    assert not socket.exists(), "the stopped driver left its socket"


def civiclake(data_dir: Path, socket: Path, *args: str, **more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args],
        env=_env(data_dir, socket, **more),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_the_socket_is_its_owners_alone(driver):
    assert driver["application"].startswith("local-")
    assert driver["socket"].parent.stat().st_mode & 0o777 == 0o700
    assert driver["socket"].stat().st_mode & 0o777 == 0o600


def test_commands_run_in_the_drivers_one_session_with_their_own_environment(driver, tmp_path):
    """Two commands, each with a data folder of its own: both on the driver's application, each
    reading its own folder (the error names it), each with its output and exit code."""
    ran = []
    for name in ("first", "second"):
        data_dir = tmp_path / name
        done = civiclake(data_dir, driver["socket"], "ingest", "party", "--date", DAY)
        assert done.returncode == 1, done.stderr
        assert f"no landing folder {data_dir / 'landing' / 'party' / DAY}" in done.stderr
        ran += ON_DRIVER.findall(done.stderr)
    assert ran == [driver["application"]] * 2
    # A usage error of a Spark command: click's message and exit code, as without a driver.
    bad = civiclake(tmp_path / "first", driver["socket"], "ingest", "party", "--date", "25.11.2026")
    assert bad.returncode == 2
    assert "--date must look like 2026-11-25" in bad.stderr
    assert ON_DRIVER.findall(bad.stderr) == [driver["application"]]


def test_a_command_that_wants_another_session_runs_in_its_own(driver, tmp_path):
    done = civiclake(
        tmp_path, driver["socket"], "ingest", "party", "--date", DAY, CIVICLAKE_SPARK_DRIVER_MEMORY="1g"
    )
    assert "runs another session (other spark_driver_memory)" in done.stderr
    assert not ON_DRIVER.findall(done.stderr)
    assert done.returncode == 1 and f"no landing folder {tmp_path / 'landing'}" in done.stderr


def test_a_client_killed_mid_command_cancels_it_and_the_driver_serves_the_next(driver, tmp_path):
    data_dir = tmp_path / "killed"
    simulated = civiclake(data_dir, driver["socket"], "simulate", "resources", "--date", DAY)
    assert simulated.returncode == 0, simulated.stderr
    client = subprocess.Popen(
        [str(CLI), "ingest", "resources", "--date", DAY],
        env=_env(data_dir, driver["socket"]),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = client.stderr.readline()
        assert ON_DRIVER.search(first), first
        time.sleep(3)  # into the command's Spark jobs
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
    finally:
        client.kill()
        client.stderr.close()
    after = civiclake(tmp_path / "after", driver["socket"], "ingest", "party", "--date", DAY)
    assert after.returncode == 1 and ON_DRIVER.findall(after.stderr) == [driver["application"]]
    assert "the client went away: ending its command" in driver["log"].read_text()
    # The command ended there, not at its end: of the registries it loads one after the other
    # in about a minute, the last (departments) never reached silver.
    lake = Settings(data_dir=data_dir)
    assert not Path(lake.table_path("silver", "resources_departments")).exists()
