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

# On two workers (infra/test.sh: pytest-xdist) each module runs whole on one worker, so
# its module fixtures (a Spark cluster, a scratch database) are made once; the end-to-end
# tests run together on one worker, as they share the session's daily run, Superset and the
# demo's ports, except the modules below, whose services are their own (an Airflow home,
# free ports). The groups of LONG_FIRST take minutes each and start first, so that the
# other worker's short modules fill the end of the run rather than one long module alone.
SELF_CONTAINED_E2E = (
    "tests/e2e/test_airflow_dag_mechanics.py",
    "tests/e2e/test_backfill_dag.py",
    "tests/e2e/test_cameras_dag.py",
    "tests/e2e/test_maintenance_dag.py",
    "tests/e2e/test_operation_dag.py",
    "tests/e2e/test_review_hitl.py",
)
LONG_FIRST = (
    "tests/e2e/",
    "tests/integration/test_spark_cluster.py",
    "tests/integration/test_thin_path.py",
    "tests/integration/test_marts_targets.py",
    "tests/integration/test_backfill.py",
)


# Modules that share a session fixture (a lake and its marts, built once per worker) run
# together, so that the fixture is built once.
SHARED_FIXTURES = {
    "tests/integration/test_marts_families.py": "families_marts",
    "tests/integration/test_marts_targets.py": "families_marts",
    "tests/integration/test_marts_dbt.py": "published_marts",
    "tests/integration/test_notebook_marts.py": "published_marts",
    "tests/integration/test_time_travel.py": "published_marts",
    "tests/integration/test_marts_cameras.py": "published_marts",
}


def worker_group(nodeid: str) -> str:
    """The tests that run together on one worker: the end-to-end tests that share the
    session's services, the modules that share a session fixture, or one module."""
    module = nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/") and module not in SELF_CONTAINED_E2E:
        return "tests/e2e/"
    return SHARED_FIXTURES.get(module, module)


def schedule_rank(nodeid: str) -> int:
    return next(
        (rank for rank, prefix in enumerate(LONG_FIRST) if nodeid.startswith(prefix)), len(LONG_FIRST)
    )


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, by :func:`worker_group`: a group goes whole to the
    next free worker, in the order of collection (``--no-loadscope-reorder``)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkerGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return ByWorkerGroup(config, log)


def pytest_collection_modifyitems(config, items):
    # A stable sort: each module's tests stay together and in their order.
    items.sort(key=lambda item: schedule_rank(item.nodeid))


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
