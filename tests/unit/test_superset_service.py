"""What Superset's processes are given (infra/superset/service.sh): the variables
superset_config.py reads and none of the platform's other secrets."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "infra" / "superset" / "service.sh"
# The two secrets Superset needs; every other one of infra/secrets.sh must stay out.
SUPERSET_SECRETS = {"SUPERSET_SECRET_KEY", "SUPERSET_PG_PASSWORD"}
# Set by the shell that runs the command (env -i leaves them), not by the caller.
SHELL_OWN = {"PWD", "SHLVL", "_"}


def generated_secrets() -> set[str]:
    """The names infra/secrets.sh generates into var/secrets.env."""
    text = (ROOT / "infra" / "secrets.sh").read_text()
    listed = re.search(r"^for name in (.*?); do", text, re.S | re.M).group(1)
    return set(listed.replace("\\", " ").split())


def config_reads() -> set[str]:
    """Environment variables read by the code Superset's processes load: the config, the
    modules it loads beside it, and the warm-up (ensure_admin.py runs at set-up only)."""
    pattern = re.compile(
        r"""(?:os\.environ\.get|os\.getenv|os\.environ\[|_required)\(?\s*["']([A-Z0-9_]+)["']"""
    )
    names: set[str] = set()
    for path in (ROOT / "infra" / "superset").glob("*.py"):
        if path.name != "ensure_admin.py":
            names |= set(pattern.findall(path.read_text()))
    return names


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{SERVICE}"; {script}'],
        env=env,
        capture_output=True,
        check=True,
    )


def allowed_names() -> set[str]:
    out = bash('printf "%s\\n" "${SUPERSET_SERVICE_VARS[@]}"', {"PATH": os.environ["PATH"]})
    return set(out.stdout.decode().split())


def hostile_environment(tmp_path: Path) -> dict[str, str]:
    """What a root shell that sourced var/secrets.env holds, and more."""
    env = {name: f"value-of-{name}" for name in generated_secrets()}
    env |= {
        "PATH": os.environ["PATH"],
        "ROOT": str(ROOT),
        "SUPERSET_VENV": str(tmp_path / "venv"),
        "SUPERSET_HOME": str(tmp_path / "home"),
        "SUPERSET_CONFIG_PATH": str(ROOT / "infra" / "superset" / "superset_config.py"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://civiclake_airflow:pw@127.0.0.1/airflow_meta",
        "CIVICLAKE_SMTP_PASSWORD": "smtp-secret",
        "BASH_FUNC_leak%%": "() { echo leak; }",
        "NOT-A-NAME": "leak",
    }
    return env


def test_every_variable_the_config_reads_is_passed():
    missing = config_reads() - allowed_names()
    assert not missing, f"superset_config.py reads {sorted(missing)}: add them to SUPERSET_SERVICE_VARS"


def test_no_other_secret_is_on_the_list():
    allowed = allowed_names()
    assert allowed >= SUPERSET_SECRETS
    foreign = (generated_secrets() - SUPERSET_SECRETS) | {"CIVICLAKE_SMTP_PASSWORD"}
    assert not allowed & foreign
    assert not {n for n in allowed if n.startswith("AIRFLOW")}


def test_service_environment_keeps_only_the_list(tmp_path):
    env = hostile_environment(tmp_path)
    out = bash("superset_service_env", env).stdout
    given = dict(entry.decode().split("=", 1) for entry in out.split(b"\0") if entry)
    assert set(given) <= allowed_names() | {"PATH", "HOME"}
    for name in SUPERSET_SECRETS:
        assert given[name] == env[name]
    assert "CIVICLAKE_PII_KEY" not in given and "CIVICLAKE_PG_PASSWORD" not in given
    assert given["PATH"].split(":")[0] == f"{tmp_path}/venv/bin"
    assert given["HOME"] == f"{tmp_path}/home"


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_command_runs_unprivileged_with_that_environment_only(tmp_path):
    """The real launcher, with the stand-in service user `nobody`: the command gets that
    user's uid and nothing of the caller's environment but the list."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody here")
    env = hostile_environment(tmp_path) | {"CIVICLAKE_SUPERSET_USER": "nobody"}
    out = bash('run_as_superset /bin/sh -c "id -u; env -0"', env).stdout.decode()
    uid, _, environment = out.partition("\n")
    assert int(uid) == nobody.pw_uid
    names = {entry.split("=", 1)[0] for entry in environment.split("\0") if entry}
    assert names <= allowed_names() | {"PATH", "HOME"} | SHELL_OWN, names
    assert names >= SUPERSET_SECRETS
    assert not names & {"CIVICLAKE_PII_KEY", "CIVICLAKE_PG_PASSWORD", "BASH_FUNC_leak%%", "NOT-A-NAME"}
