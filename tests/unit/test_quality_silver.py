"""The quality gates read silver with delta-rs and check it with pandas (quality.silver)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_columns
from civiclake.geography import load_geography
from civiclake.settings import Settings
from quality.silver import SilverTableMissingError, gate
from quality.suites import governance_grid_workers, open311_requests

TOKEN = "0123456789abcdef" * 2


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def workers(grids: list[str]) -> pd.DataFrame:
    geo = load_geography()
    when = datetime(2026, 11, 25, 8, tzinfo=UTC)
    rows = []
    for n, grid in enumerate(grids):
        community = grid[:12] if grid[:12] in geo.communities else sorted(geo.communities)[0]
        rows.append(
            {
                "grid_code": grid,
                "community_code": community,
                "street_code": community[:9],
                "worker_id": f"W{n:04d}",
                "worker_name_token": f"name_{TOKEN}",
                "worker_phone_token": f"phone_{TOKEN}",
                "on_duty_since": when.date(),
                "updated_at": when,
            }
        )
    return pd.DataFrame(rows, columns=list(silver_columns("governance_grid_workers")))


def test_a_gate_passes_on_good_rows_read_from_the_delta_log(settings):
    grids = sorted(load_geography().grids)[:5]
    write_deltalake(settings.table_path("silver", "governance_grid_workers"), workers(grids))
    (report,) = gate(settings, {"governance_grid_workers": governance_grid_workers})
    assert report.success, report.failures
    assert report.rows == 5


def test_a_gate_reports_a_bad_row_written_in_a_later_commit(settings):
    path = settings.table_path("silver", "governance_grid_workers")
    grids = sorted(load_geography().grids)[:5]
    write_deltalake(path, workers(grids))
    # A second commit: an unknown grid and a repeated one. The gate must read the
    # table's current version, not the first file it finds.
    write_deltalake(path, workers([grids[0], "NOT-A-GRID"]), mode="append")
    (report,) = gate(settings, {"governance_grid_workers": governance_grid_workers})
    assert report.rows == 7
    assert not report.success
    failed = "\n".join(report.failures)
    assert "expect_column_values_to_be_unique" in failed and "grid_code" in failed
    assert "expect_column_values_to_be_in_set" in failed and "NOT-A-GRID" in failed


def test_the_open311_gate_checks_only_its_jurisdictions_rows(settings):
    """The rows of another jurisdiction (outside Longhua's box) are left out by the filter,
    so they neither fail the gate nor count as checked."""
    columns = silver_columns("open311_requests")
    when = datetime(2026, 11, 25, 8, tzinfo=UTC)
    base = {c: None for c in columns}
    rows = [
        base | {"jurisdiction": "longhua", "service_request_id": "1", "lon": 114.03, "lat": 22.65},
        base | {"jurisdiction": "nyc", "service_request_id": "1", "lon": -73.9, "lat": 40.7},
    ]
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in ("requested_at", "updated_at"):
        frame[column] = when
    frame = frame.astype({c: "string" for c in frame.columns if frame[c].isna().all()})
    write_deltalake(settings.table_path("silver", "open311_requests"), frame)
    suites = {"open311_requests": lambda: open311_requests("longhua")}
    (report,) = gate(settings, suites, filters=[("jurisdiction", "=", "longhua")])
    assert report.rows == 1
    # Only the longhua row is there: no failure names the other jurisdiction's coordinates.
    assert not any("-73.9" in f or "nyc" in f for f in report.failures), report.failures


def test_a_table_not_in_the_lake_is_named(settings):
    with pytest.raises(SilverTableMissingError, match=r"silver\.governance_grid_workers is not in the lake"):
        gate(settings, {"governance_grid_workers": governance_grid_workers})
