"""End to end: Superset's web server, the service residents' and leaders' browsers reach,
is isolated from the rest of the platform.

Its gunicorn processes run as an unprivileged user of their own, their environment holds
none of the platform's other secrets, that user can read neither var/secrets.env nor the
lake, and Superset's PostgreSQL role reaches its own metadata database only.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import psycopg
import pytest

from civiclake.settings import Settings
from dashboards.importer import read_secret

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PIDFILE = ROOT / "var" / "superset" / "superset.pid"
# Secrets of infra/secrets.sh (and the deployment) that Superset has no use for.
FOREIGN_SECRETS = {
    "CIVICLAKE_PII_KEY",
    "CIVICLAKE_PG_PASSWORD",
    "CIVICLAKE_LEADER_PASSWORD",
    "CIVICLAKE_SMTP_PASSWORD",
    "SUPERSET_ADMIN_PASSWORD",
}


def _gunicorn_pids() -> list[int]:
    """The master (from start.sh's pid file) and its workers."""
    if not PIDFILE.exists():
        pytest.fail(
            f"{PIDFILE} is missing although Superset answers: was it started by infra/superset/start.sh?"
        )
    master = int(PIDFILE.read_text().strip())
    workers = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _field(int(p.name), "PPid") == str(master)
    ]
    assert workers, f"gunicorn master {master} has no workers"
    return [master, *workers]


def _field(pid: int, name: str) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _service_user() -> str:
    return pwd.getpwuid(int(_field(_gunicorn_pids()[0], "Uid").split()[0])).pw_name


def test_web_server_runs_as_an_unprivileged_user(superset):
    for pid in _gunicorn_pids():
        uids = _field(pid, "Uid").split()  # real, effective, saved, filesystem
        assert "0" not in uids, f"gunicorn pid {pid} runs with uid {uids}"
        assert int(_field(pid, "CapEff"), 16) == 0, f"gunicorn pid {pid} holds capabilities"
        assert _field(pid, "NoNewPrivs") == "1", f"gunicorn pid {pid} may gain privileges"


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another user's /proc/<pid>/environ needs root")
def test_web_server_environment_holds_no_other_secrets(superset):
    for pid in _gunicorn_pids():
        names = {
            entry.split(b"=", 1)[0].decode()
            for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if entry
        }
        assert "SUPERSET_SECRET_KEY" in names, names  # the environment is the one start.sh gave
        leaked = (names & FOREIGN_SECRETS) | {n for n in names if n.startswith("AIRFLOW")}
        assert not leaked, f"gunicorn pid {pid} has {sorted(leaked)} in its environment"


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as the service user needs root")
def test_service_user_reads_no_secrets_or_lake(superset):
    user = _service_user()
    private = [ROOT / "var" / "secrets.env", ROOT / "var" / "superset-users.env", ROOT / "var" / "lake"]
    for path in [p for p in private if p.exists()]:
        probe = subprocess.run(
            [
                "setpriv",
                f"--reuid={user}",
                f"--regid={pwd.getpwnam(user).pw_gid}",
                "--init-groups",
                "test",
                "-r",
                str(path),
            ],
            check=False,
        )
        assert probe.returncode != 0, f"{user} can read {path}"


def test_superset_role_reaches_its_own_database_only(superset):
    settings = Settings()
    role = os.environ.get("SUPERSET_PG_USER", "civiclake_superset")
    password = read_secret("SUPERSET_PG_PASSWORD")

    def connect(database: str) -> psycopg.Connection:
        return psycopg.connect(
            host=settings.pg_host, port=settings.pg_port, user=role, password=password, dbname=database
        )

    with connect(os.environ.get("SUPERSET_META_DB", "superset_meta")) as conn:
        assert conn.execute("select current_user").fetchone() == (role,)
    for database in (settings.pg_sources_db, os.environ.get("AIRFLOW_META_DB", "airflow_meta")):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            connect(database).close()
