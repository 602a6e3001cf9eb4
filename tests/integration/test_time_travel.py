"""Time travel: the marts of a past day, rebuilt from the lake versions its publication read,
equal what was published that day, though the lake has moved on since; and `civiclake lake`
shows a table's history and reads it as of a version or a time.

Day D's publication is the session's (conftest: ``published_marts``, the governance marts as
of D = MARTS_LAST). A copy of its lake and marts folder then moves on: the source withdraws a
case reported on D (a correction the next extract brings) and day D+1 arrives; the marts of
D+1 are built and published over D's. Expected numbers come from the simulator's case plans.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from typer.testing import CliRunner

from bench.bench_marts_lake import plans, write_lake
from civiclake import marts
from civiclake import marts_publications as publications
from civiclake.cli import app
from civiclake.settings import Settings
from tests.integration.conftest import MARTS_CASES_PER_DAY, MARTS_LAST, marts_settings

pytestmark = pytest.mark.integration

D = MARTS_LAST
D1 = D + timedelta(days=1)
SHENZHEN = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def moved_on(tmp_path_factory, published_marts, case_plans):
    """A copy of day D's lake and marts, after the lake moved on and D+1 was published; with
    a copy of the marts file published on D, the case withdrawn and the rows of D+1."""
    root = tmp_path_factory.mktemp("time-travel")
    lake = root / "lake"
    shutil.copytree(published_marts.lake, lake)
    shutil.copytree(published_marts.marts, root / "marts")
    settings = marts_settings(root, lake)
    published_on_d = root / "published-on-d.duckdb"
    shutil.copyfile(settings.published_marts_file, published_on_d)

    withdrawn = min((p for p in case_plans if p.reported_at.date() == D), key=lambda p: p.case_id)
    day_after = plans(Settings(sim_cases_per_day=MARTS_CASES_PER_DAY), D1, D1)
    assert day_after
    write_lake(str(lake), [p for p in case_plans if p is not withdrawn] + day_after, D1)
    marts.build(settings, as_of=D1)
    return settings, published_on_d, withdrawn, day_after


def _cli(settings: Settings, monkeypatch, *args: str):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", settings.lake)
    monkeypatch.setenv("CIVICLAKE_SIM_CASES_PER_DAY", str(MARTS_CASES_PER_DAY))
    return CliRunner().invoke(app, list(args))


def _cases_reported(path, day) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        ((reported,),) = con.execute(
            "select cases_reported from mart_case_measures_daily where report_date = ? and level = 'district'",
            [day],
        ).fetchall()
    return reported


def test_rebuilt_marts_of_a_past_day_equal_what_was_published(moved_on, case_plans, tmp_path, monkeypatch):
    settings, published_on_d, _, _ = moved_on
    rebuilt = tmp_path / "rebuilt.duckdb"
    result = _cli(settings, monkeypatch, "marts", "rebuild", "--date", D.isoformat(), "--out", str(rebuilt))
    assert result.exit_code == 0, result.output

    with duckdb.connect() as con:
        con.execute("attach ? as published (read_only)", [str(published_on_d)])
        con.execute("attach ? as rebuilt (read_only)", [str(rebuilt)])
        tables = {
            name: con.execute(
                "select table_name from duckdb_tables() where database_name = ? order by all", [name]
            ).fetchall()
            for name in ("published", "rebuilt")
        }
        assert tables["rebuilt"] == tables["published"] == sorted((t,) for t in marts.REQUIRED_TABLES)
        for table in marts.REQUIRED_TABLES:
            columns = [
                con.execute(
                    "select column_name, data_type from duckdb_columns() where database_name = ? "
                    "and table_name = ? order by column_index",
                    [name, table],
                ).fetchall()
                for name in ("published", "rebuilt")
            ]
            assert columns[0] == columns[1], table
            for left, right in (("published", "rebuilt"), ("rebuilt", "published")):
                extra = con.execute(
                    f"select count(*) from (select * from {left}.main.{table} "
                    f"except all select * from {right}.main.{table})"
                ).fetchall()
                assert extra == [(0,)], f"{table}: rows in {left} missing from {right}"

    # What reading the lake as it stands now would have given instead: the withdrawn case is
    # no longer counted on D, as the marts published on D+1 (built from the newest versions) show.
    reported_on_d = sum(p.reported_at.date() == D for p in case_plans)
    assert _cases_reported(published_on_d, D) == _cases_reported(rebuilt, D) == reported_on_d
    assert _cases_reported(settings.published_marts_file, D) == reported_on_d - 1


def test_each_publication_records_the_versions_its_build_read(moved_on, monkeypatch):
    settings, _, _, _ = moved_on
    listed = _cli(settings, monkeypatch, "marts", "publications")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == [D.isoformat(), D1.isoformat()]
    records = {}
    for day in (D, D1):
        shown = _cli(settings, monkeypatch, "marts", "publications", "--date", day.isoformat())
        assert shown.exit_code == 0, shown.output
        records[day] = json.loads(shown.stdout)
    history = _cli(settings, monkeypatch, "lake", "history", "silver.governance_cases", "--format", "json")
    versions = [commit["version"] for commit in json.loads(history.stdout)]
    # The lake's first write of the table is what D read; the write after it is what D+1 read.
    assert versions == [1, 0]
    for day, version in ((D, 0), (D1, 1)):
        pinned = records[day]["lake_versions"]["tables"]
        assert records[day]["logical_date"] == day.isoformat()
        assert pinned["silver/governance_cases"]["version"] == version
        assert set(pinned) >= {"silver/governance_case_events", "silver/cases", "silver/ref_communities"}
    assert records[D]["marts"] == marts.audit(moved_on[1])


def test_a_day_without_a_publication_is_refused_naming_the_recorded_days(moved_on, tmp_path, monkeypatch):
    settings, _, _, _ = moved_on
    before = D - timedelta(days=1)
    result = _cli(
        settings,
        monkeypatch,
        "marts",
        "rebuild",
        "--date",
        before.isoformat(),
        "--out",
        str(tmp_path / "x.duckdb"),
    )
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"no publication of the marts of {before}" in message
    assert f"{D}, {D1}" in message
    assert not (tmp_path / "x.duckdb").exists()


def test_lake_history_and_reads_as_of_a_version_or_a_time(moved_on, case_plans, monkeypatch):
    settings, _, withdrawn, day_after = moved_on
    history = _cli(settings, monkeypatch, "lake", "history", "silver.governance_cases", "--format", "json")
    assert history.exit_code == 0, history.output
    newest, first = json.loads(history.stdout)
    assert (first["operation"], first["rows_written"]) == ("WRITE (Overwrite)", len(case_plans))
    assert (newest["operation"], newest["rows_written"]) == (
        "WRITE (Overwrite)",
        len(case_plans) - 1 + len(day_after),
    )

    where = f"cast(reported_at as date) = date '{D}'"
    reported_on_d = sum(p.reported_at.date() == D for p in case_plans)
    counts = {}
    for label, travel in (
        ("now", []),
        ("version 0", ["--version", "0"]),
        # The moment of the first write, and just before the second (given in UTC+8).
        ("at first", ["--as-of", first["timestamp"]]),
        (
            "before second",
            [
                "--as-of",
                (datetime.fromisoformat(newest["timestamp"]) - timedelta(milliseconds=1)).isoformat(),
            ],
        ),
        (
            "at second, UTC+8",
            ["--as-of", datetime.fromisoformat(newest["timestamp"]).astimezone(SHENZHEN).isoformat()],
        ),
    ):
        shown = _cli(
            settings,
            monkeypatch,
            "lake",
            "show",
            "silver.governance_cases",
            *travel,
            "--where",
            where,
            "--count",
        )
        assert shown.exit_code == 0, shown.output
        counts[label] = int(shown.stdout)
    assert counts == {
        "now": reported_on_d - 1,
        "version 0": reported_on_d,
        "at first": reported_on_d,
        "before second": reported_on_d,
        "at second, UTC+8": reported_on_d - 1,
    }

    # The withdrawn case, row by row, at version 0 and not now.
    for travel, expected in ((["--version", "0"], [withdrawn.case_id]), ([], [])):
        shown = _cli(
            settings,
            monkeypatch,
            "lake",
            "show",
            "silver.governance_cases",
            *travel,
            "--where",
            f"case_id = '{withdrawn.case_id}'",
            "--format",
            "json",
        )
        assert shown.exit_code == 0, shown.output
        assert [row["case_id"] for row in json.loads(shown.stdout)] == expected


def _identity(path) -> tuple[int, int]:
    """Which file is at ``path``: publishing renames a new file over it."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_a_backfilled_past_day_is_recorded_and_the_newer_day_stays_live(published_marts, tmp_path):
    """Day D's build published again once D+1 is live (a backfill of D): viewers keep D+1's
    marts, the next incremental build still starts from D+1's, and D's new publication is
    recorded. D's own build (the session's last good) stands in for the backfill's."""
    root = tmp_path / "backfill"
    shutil.copytree(published_marts.lake, root / "lake")
    shutil.copytree(published_marts.marts, root / "marts")
    copy = marts_settings(root, root / "lake")
    newer = publications.publication_of(copy, D)
    publications.record(copy, dataclasses.replace(newer, logical_date=D1, published_at=publications.now()))
    live, last_good, build = copy.published_marts_file, marts.last_good_file(copy), marts.build_file(copy)
    shutil.copyfile(last_good, build)
    marts.pin_lake_versions(copy)
    before = {"live": _identity(live), "last good": _identity(last_good)}
    records_of_d = len(list((publications.publications_dir(copy) / D.isoformat()).glob("*.json")))

    assert marts.publish(copy) == marts.audit(build)

    assert {"live": _identity(live), "last good": _identity(last_good)} == before
    assert len(list((publications.publications_dir(copy) / D.isoformat()).glob("*.json"))) == records_of_d + 1
    assert publications.newest_published_day(copy) == D1
    # Without the newer day, the same build goes live and becomes the last good one.
    shutil.rmtree(publications.publications_dir(copy) / D1.isoformat())
    marts.publish(copy)
    assert _identity(live) != before["live"] and _identity(last_good) != before["last good"]
    assert not build.exists()
