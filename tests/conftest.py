"""Every test of the suite: in CI a skipped test is a failed one.

A test skips where a developer's machine lacks what it checks against (the real data of
``../shared/data``, Chromium, the Airflow environment). CI has all of it, set up by
``.ci/run``: there a skip would let a green run hide a check that never ran, so with
``CI=true`` it is reported as a failure (an error where the skip came from a fixture or a
``skipif`` mark, which act before the test) naming what was missing.
"""

from __future__ import annotations

import os

import pytest


def skips_fail() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and skips_fail() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every check must run: {reason}"
