"""In CI a skipped test fails (tests/conftest.py): a green run means every check ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPING = """
import pytest

def test_needs_the_real_data():
    pytest.skip("../shared/data is absent")

@pytest.mark.skipif(True, reason="no chromium")
def test_needs_a_browser():
    pass

def test_runs():
    assert 1 + 1 == 2
"""


@pytest.fixture
def skipping_tests(tmp_path) -> Path:
    folder = ROOT / "tests" / "unit" / f"_ci_skips_{os.getpid()}"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "test_skipping.py").write_text(SKIPPING)
    yield folder
    for f in sorted(folder.rglob("*"), reverse=True):
        f.rmdir() if f.is_dir() else f.unlink()
    folder.rmdir()


def _run(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci is not None else {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_in_ci_a_skip_is_a_failure_that_names_what_was_missing(skipping_tests):
    run = _run(skipping_tests, "true")
    assert run.returncode == 1, run.stdout
    assert "1 failed, 1 passed, 1 error" in run.stdout, run.stdout
    assert "skipped in CI, where every check must run: ../shared/data is absent" in run.stdout
    assert "skipped in CI, where every check must run: no chromium" in run.stdout


def test_on_a_developers_machine_a_skip_stays_a_skip(skipping_tests):
    run = _run(skipping_tests, None)
    assert run.returncode == 0, run.stdout
    assert "1 passed, 2 skipped" in run.stdout, run.stdout
