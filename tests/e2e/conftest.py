"""One real run of the civiclake_daily DAG (``airflow dags test``) for the end-to-end tests.

The run has a source database, lake and marts of its own, so its numbers depend only on
the simulator's seed and the date; the Airflow test checks them against the simulator
and the Superset test checks the dashboards against the marts this run published.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests

from civiclake.settings import Settings
from dashboards.importer import read_secret, run_import
from dashboards.superset_client import SupersetClient

ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-25"
SOURCE_DB = "civiclake_e2e"
# The user Superset's processes run as (infra/superset/service.sh).
SUPERSET_SERVICE_USER = os.environ.get("CIVICLAKE_SUPERSET_USER", "civiclake-superset")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Where `make demo` serves its Open311 API (infra/open311/start.sh's default port).
DEMO_OPEN311_PORT = 8311
DEMO_INTAKE_PORT = 8320


@contextmanager
def port_held(port: int):
    """Listens on 127.0.0.1:``port`` for the duration, as the demo's server would, unless
    something already does (then that something holds it)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
    except OSError:
        pass  # held already, by the demo or anything else: just as good
    try:
        yield
    finally:
        holder.close()


@pytest.fixture(scope="session")
def superset_readable_dir():
    """A folder for the marts this session serves: Superset runs as its own user, which
    cannot enter pytest's temporary folders (root's alone). Only root and that user's
    group may enter this one. Removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="civiclake-e2e-marts-"))
    try:
        shutil.chown(path, group=SUPERSET_SERVICE_USER)
        path.chmod(0o750)
    except (LookupError, PermissionError):
        pass  # no such user, or not root: Superset runs as this test's own user
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def dag_run(tmp_path_factory, superset_readable_dir) -> dict:
    if not (ROOT / ".venvs" / "airflow" / "bin" / "airflow").exists():
        pytest.skip("no Airflow environment: run `bash infra/setup.sh` (or `make test`)")
    missing = [n for n in ("CIVICLAKE_PG_PASSWORD", "CIVICLAKE_PII_KEY") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"end-to-end tests need {missing}: `source var/secrets.env` or run `make test`")
    with psycopg.connect(Settings().pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {SOURCE_DB} with (force)")
        conn.execute(f"create database {SOURCE_DB}")
    data_dir = tmp_path_factory.mktemp("e2e-platform")
    overrides = {
        "CIVICLAKE_DATA_DIR": str(data_dir),
        "CIVICLAKE_JARS_DIR": str(ROOT / "var" / "jars"),
        "CIVICLAKE_MARTS_DIR": str(superset_readable_dir / "dag-run"),
        "CIVICLAKE_PG_SOURCES_DB": SOURCE_DB,
        "CIVICLAKE_SIM_CASES_PER_DAY": "200",
        "CIVICLAKE_SIM_HISTORY_DAYS": "7",
    }
    # The Open311 API the pipeline pulls from, as the demo starts it, on a port of its own:
    # the demo's server may hold the default one on this machine (make demo, then make
    # test). The default port is held for the whole run, so the run shows it never needs it.
    # The intake API the simulated residents post to, likewise on a port of its own.
    with port_held(DEMO_OPEN311_PORT), port_held(DEMO_INTAKE_PORT):
        port = free_port()
        overrides |= {
            "CIVICLAKE_OPEN311_PORT": str(port),
            "CIVICLAKE_OPEN311_URL": f"http://127.0.0.1:{port}",
            "CIVICLAKE_INTAKE_PORT": str(free_port()),
        }
        for start in (["infra/open311/start.sh", RUN_DATE, "7"], ["infra/intake/start.sh", RUN_DATE]):
            server = subprocess.run(
                ["bash", *start],
                cwd=ROOT,
                env=os.environ | overrides,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert server.returncode == 0, f"{start[0]} failed:\n{server.stdout}\n{server.stderr}"
        try:
            proc = subprocess.run(
                ["bash", "infra/airflow/run_dag.sh", RUN_DATE],
                cwd=ROOT,
                env=os.environ | overrides,
                capture_output=True,
                text=True,
                timeout=3600,
            )
        finally:
            for stop in ("infra/open311/stop.sh", "infra/intake/stop.sh"):
                subprocess.run(["bash", stop], cwd=ROOT, env=os.environ | overrides, timeout=120)
    settings = Settings(
        data_dir=data_dir,
        marts_dir=superset_readable_dir / "dag-run",
        pg_sources_db=SOURCE_DB,
        sim_cases_per_day=200,
        sim_history_days=7,
    )
    return {
        "date": RUN_DATE,
        "proc": proc,
        "env": overrides,
        "settings": settings,
        "marts_file": settings.published_marts_file,
    }


# --------------------------------------------------------------------------- Superset
SUPERSET_VENV = ROOT / ".venvs" / "superset"
URL = os.environ.get("SUPERSET_URL", "http://127.0.0.1:8088")


def _healthy() -> bool:
    try:
        return requests.get(f"{URL}/health", timeout=5).text.strip() == "OK"
    except requests.RequestException:
        return False


def _run(*cmd: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def marts(request) -> dict:
    """The marts file the DAG run of this test session published.

    CIVICLAKE_E2E_MARTS_FILE names a marts file to use instead (a copy is taken), for
    working on the dashboards without the twenty-minute pipeline run; CI never sets it.
    """
    given = os.environ.get("CIVICLAKE_E2E_MARTS_FILE")
    if given:
        copy = request.getfixturevalue("superset_readable_dir") / "given-marts.duckdb"
        shutil.copy2(given, copy)
        copy.chmod(0o644)
        return {"path": copy}
    dag_run = request.getfixturevalue("dag_run")
    assert dag_run["proc"].returncode == 0, "the civiclake_daily run failed: see test_dags_test_end_to_end"
    return {"path": dag_run["marts_file"]}


@pytest.fixture(scope="session")
def superset():
    """Superset started by infra/superset/start.sh (stopped again if we started it)."""
    if not (SUPERSET_VENV / "bin" / "superset").exists():
        pytest.skip(
            f"{SUPERSET_VENV} does not exist: run `bash infra/superset/setup.sh` "
            "(or `bash infra/setup.sh`) to test the dashboards"
        )
    was_running = _healthy()
    start = _run("bash", "infra/superset/start.sh")
    if start.returncode != 0:
        pytest.fail(f"infra/superset/start.sh failed:\n{start.stdout}\n{start.stderr}")
    yield URL
    if not was_running:
        _run("bash", "infra/superset/stop.sh", timeout=120)


@pytest.fixture(scope="session")
def imported(superset, marts):
    """Dashboards imported with the project's one command, then once more through
    the function (must change nothing) to learn the ids.

    At the end, where this machine has published marts of its own (`make demo` ran here),
    the dashboards are imported on them again: the screens of a running demo read the
    demo's marts after the tests, not this session's (removed with its folder)."""
    cli = _run(
        sys.executable,
        "-m",
        "dashboards.importer",
        "--url",
        superset,
        "--marts-file",
        str(marts["path"]),
    )
    assert cli.returncode == 0, f"importer failed:\n{cli.stdout}\n{cli.stderr}"
    yield run_import(url=superset, marts_file=marts["path"])
    demo_marts = Settings().published_marts_file
    if demo_marts.is_file():
        run_import(url=superset, marts_file=demo_marts)


@pytest.fixture(scope="session")
def marts_database_id(admin, imported) -> int:
    """The id of the database that reads the published marts (dashboards/assets/databases)."""
    rows = admin.get_all("/api/v1/database/")
    return next(d["id"] for d in rows if d["database_name"] == "civiclake_marts")


@pytest.fixture(scope="session")
def admin(superset) -> SupersetClient:
    return SupersetClient(superset, "admin", read_secret("SUPERSET_ADMIN_PASSWORD"))


@pytest.fixture(scope="session")
def make_user(admin, imported):
    """Create (or reset) a user with one role (a civiclake role, or one of Superset's own
    such as Gamma, for users without a civiclake role); removed at the end."""
    created: list[int] = []
    role_ids = {r["name"]: r["id"] for r in admin.get_all("/api/v1/security/roles/")} | imported.role_ids

    def make(role: str) -> SupersetClient:
        username = f"e2e_{role}"
        password = secrets.token_urlsafe(24)
        body = {
            "first_name": "e2e",
            "last_name": role,
            "username": username,
            "email": f"{username}@civiclake.test",
            "active": True,
            "password": password,
            "roles": [role_ids[role]],
        }
        existing = [
            u
            for u in admin.get_all(
                "/api/v1/security/users/", f"filters:!((col:username,opr:eq,value:'{username}'))"
            )
            if u["username"] == username
        ]
        if existing:
            user_id = existing[0]["id"]
            admin.request("PUT", f"/api/v1/security/users/{user_id}", json=body)
        else:
            user_id = admin.request("POST", "/api/v1/security/users/", json=body)["id"]
        created.append(user_id)
        return SupersetClient(admin.url, username, password)

    yield make
    for user_id in created:
        # 422: SQL Lab's query history still names the user; deactivate it instead.
        answer = admin.request("DELETE", f"/api/v1/security/users/{user_id}", ok=(200, 404, 422))
        if (answer or {}).get("message") not in ("OK", "Not found"):
            admin.request("PUT", f"/api/v1/security/users/{user_id}", json={"active": False})
