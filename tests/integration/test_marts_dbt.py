"""The 1+6+N marts on the duckdb target, from a small silver lake written with delta-rs
from the simulator's own case plans (bench/bench_marts_lake.py; no Spark, no PostgreSQL).

Expected numbers are worked out here from the plans and the holiday reference,
independently of the SQL under test. The lake spans the 2026 National Day break, so
working-day deadlines cross the holiday and land on the adjusted working Saturday.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from bench.bench_marts_lake import plans, write_lake
from civiclake import marts
from civiclake.catalogue import CATEGORY_BY_CODE
from civiclake.geography import load_geography
from civiclake.settings import Settings
from tests.integration.conftest import MARTS_CASES_PER_DAY as CASES_PER_DAY
from tests.integration.conftest import MARTS_LAST as LAST
from tests.integration.conftest import marts_settings as _settings

pytestmark = pytest.mark.integration

# The lake (fixture marts_lake), its case plans (case_plans) and its marts published as of
# LAST (published_marts) are the session's, from conftest.py.
SEEDS = marts.DBT_PROJECT_DIR / "seeds"
# Calendar-day categories and response hours of seed case_sla_rules.
CALENDAR_DAY_CATEGORIES = {"parking", "manhole", "fire_safety"}


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time()) + timedelta(days=1) - timedelta(microseconds=1)


def _rows(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(f"select * from {table} order by all").fetchall()
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def _measures(settings: Settings, day: date, level: str = "district") -> dict:
    with duckdb.connect(str(settings.published_marts_file), read_only=True) as con:
        cursor = con.execute(
            "select * from mart_case_measures_daily where report_date = ? and level = ?", [day, level]
        )
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


def _working_days() -> tuple[set[date], set[date]]:
    holidays, workdays = set(), set()
    with open(SEEDS / "cn_public_holidays.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            (holidays if row["day_type"] == "holiday" else workdays).add(
                date.fromisoformat(row["calendar_date"])
            )
    return holidays, workdays


def _resolve_deadline(plan, holidays: set[date], workdays: set[date]) -> datetime:
    sla_days = CATEGORY_BY_CODE[plan.category].sla_days
    if plan.category in CALENDAR_DAY_CATEGORIES:
        return plan.reported_at + timedelta(days=sla_days)
    day, counted = plan.reported_at.date(), 0
    while counted < sla_days:
        day += timedelta(days=1)
        if day in workdays or (day.weekday() < 5 and day not in holidays):
            counted += 1
    return datetime.combine(day, plan.reported_at.time())


def _status_at(plan, moment: datetime) -> str:
    return [kind for kind, at, _ in plan.events if at <= moment][-1]


def test_district_measures_match_the_plans(published_marts, case_plans):
    day_start, day_end = datetime.combine(LAST, time()), _end_of(LAST)
    row = _measures(published_marts, LAST)
    events_today = [
        (p, kind, at) for p in case_plans for kind, at, _ in p.events if day_start <= at <= day_end
    ]
    assert row["cases_reported"] == sum(1 for p in case_plans if p.reported_at.date() == LAST) > 0
    assert row["closures"] == sum(1 for _, kind, _ in events_today if kind == "closed")
    assert row["reopens"] == sum(1 for _, kind, _ in events_today if kind == "reopened")
    assert row["transfers"] == sum(1 for _, kind, _ in events_today if kind == "transferred")
    assert row["backlog_open"] == sum(
        1 for p in case_plans if p.reported_at <= day_end and _status_at(p, day_end) != "closed"
    )
    last_close = {}
    for plan, kind, at in events_today:
        if kind == "closed":
            last_close[plan.case_id] = (at - plan.reported_at).total_seconds() / 3600
    assert row["median_hours_to_close"] == pytest.approx(statistics.median(last_close.values()), abs=1e-6)
    after_feedback = sum(
        1
        for p in case_plans
        for (previous, _, _), (kind, at, _) in zip(p.events, p.events[1:], strict=False)
        if kind == "closed" and day_start <= at <= day_end and previous == "fed_back"
    )
    # Some closures skip the feedback to the resident (有解决必反馈 is measured, not given).
    assert row["closures_after_feedback"] == after_feedback < row["closures"]
    assert row["feedback_rate"] == pytest.approx(after_feedback / row["closures"])


def test_on_time_counts_open_cases_past_their_deadline_as_late(published_marts, case_plans):
    holidays, workdays = _working_days()
    due, on_time, overdue_open = 0, 0, 0
    for plan in case_plans:
        deadline = _resolve_deadline(plan, holidays, workdays)
        if deadline.date() == LAST:
            due += 1
            on_time += _status_at(plan, deadline) == "closed"
        if deadline <= _end_of(LAST) and _status_at(plan, _end_of(LAST)) != "closed":
            overdue_open += 1
    row = _measures(published_marts, LAST)
    assert (row["resolve_due"], row["resolved_on_time"], row["overdue_open"]) == (due, on_time, overdue_open)
    assert 0 < on_time < due
    assert row["on_time_rate"] == pytest.approx(on_time / due)


def test_holiday_deadlines_pile_up_on_the_adjusted_working_saturday(published_marts, case_plans):
    """Working-day cases reported 28-30 September fall due after the break: 8, 9 and the
    worked Saturday 10 October; none falls due on a holiday."""
    holidays, workdays = _working_days()
    with duckdb.connect(str(published_marts.published_marts_file), read_only=True) as con:
        due = dict(
            con.execute(
                "select report_date, sum(resolve_due) from mart_sla_daily where level = 'district' "
                "and day_basis = 'working' group by 1 having sum(resolve_due) > 0"
            ).fetchall()
        )
    assert not any(day in holidays for day in due)
    expected_saturday = sum(
        1
        for p in case_plans
        if p.category not in CALENDAR_DAY_CATEGORIES
        and _resolve_deadline(p, holidays, workdays).date() == date(2026, 10, 10)
    )
    assert due[date(2026, 10, 10)] == expected_saturday > 0


def _seed_years() -> dict[int, str]:
    """Each year of seed cn_public_holidays and its arrangement (announced or statutory)."""
    with open(SEEDS / "cn_public_holidays.csv", encoding="utf-8") as f:
        return {int(row["calendar_year"]): row["arrangement"] for row in csv.DictReader(f)}


def test_the_calendar_says_which_years_are_not_announced(published_marts):
    """The working-day calendar runs from the seed's first year to the end of the year after
    its last, and says of each year whether the State Council's notice is in the seed."""
    years = _seed_years()
    expected = years | {max(years) + 1: "weekday_rule"}
    with duckdb.connect(str(marts.last_good_file(published_marts)), read_only=True) as con:
        rows = con.execute(
            "select year(calendar_date), min(arrangement), max(arrangement), min(calendar_date), "
            "max(calendar_date) from intermediate.int_calendar_days group by 1 order by 1"
        ).fetchall()
    assert {year: low for year, low, high, _, _ in rows if low == high} == expected
    assert rows[0][3] == date(min(years), 1, 1) and rows[-1][4] == date(max(years) + 1, 12, 31)


def test_a_deadline_beyond_the_calendar_fails_the_build_naming_the_seed(tmp_path, capfd):
    """Working-day cases reported on the calendar's last two days fall due after it: the
    build fails, naming such a case and the seed to extend, and publishes nothing,
    instead of giving them no deadline."""
    holidays, workdays = _working_days()
    calendar_end = date(max(_seed_years()) + 1, 12, 31)
    late_plans = plans(
        Settings(sim_cases_per_day=CASES_PER_DAY), calendar_end - timedelta(days=1), calendar_end
    )
    beyond = {
        p.case_id
        for p in late_plans
        if p.category not in CALENDAR_DAY_CATEGORIES
        and _resolve_deadline(p, holidays, workdays).date() > calendar_end
    }
    assert beyond
    lake = tmp_path / "lake"
    write_lake(str(lake), late_plans, calendar_end)
    settings = _settings(tmp_path / "build", lake)
    with pytest.raises(marts.MartsBuildError, match="left as they were"):
        marts.build(settings, as_of=calendar_end)
    output = capfd.readouterr().out
    assert "outside the working-day calendar" in output
    assert "dbt/seeds/cn_public_holidays.csv" in output
    assert any(case_id in output for case_id in beyond)
    assert not settings.published_marts_file.exists()


def test_levels_and_street_rows(published_marts, case_plans):
    geography = load_geography()
    street = sorted(geography.streets)[0]
    with duckdb.connect(str(published_marts.published_marts_file), read_only=True) as con:
        streets = dict(
            con.execute(
                "select area_code, cases_reported from mart_case_measures_daily "
                "where report_date = ? and level = 'street'",
                [LAST],
            ).fetchall()
        )
        levels = con.execute(
            "select level, count(*) from mart_leader_brief_daily where report_date = ? group by 1 order by 1",
            [LAST],
        ).fetchall()
    assert streets[street] == sum(
        1
        for p in case_plans
        if p.reported_at.date() == LAST and geography.street_of(p.community_code) == street
    )
    assert levels == [("community", 50), ("district", 1), ("street", 6)]


def test_leader_brief_changes_and_score(published_marts, case_plans):
    with duckdb.connect(str(published_marts.published_marts_file), read_only=True) as con:
        brief = con.execute(
            "select cases_reported, cases_reported_change_1d, cases_reported_change_7d, score, rank_in_level "
            "from mart_leader_brief_daily where report_date = ? and level = 'district'",
            [LAST],
        ).fetchall()[0]
        ratios = con.execute(
            "select ratio from mart_scorecard_measures_daily where report_date = ? and level = 'district'",
            [LAST],
        ).fetchall()
        scorecard = con.execute(
            "select level, area_code, cases_reported, score, is_ranked, rank_in_level "
            "from mart_scorecard_daily where report_date = ? and level in ('street', 'community')",
            [LAST],
        ).fetchall()
    reported = {
        d: sum(1 for p in case_plans if p.reported_at.date() == d) for d in (LAST, LAST - timedelta(1))
    }
    reported[LAST - timedelta(7)] = sum(1 for p in case_plans if p.reported_at.date() == LAST - timedelta(7))
    assert brief[:3] == (
        reported[LAST],
        reported[LAST] - reported[LAST - timedelta(1)],
        reported[LAST] - reported[LAST - timedelta(7)],
    )
    values = [r[0] for r in ratios if r[0] is not None]
    assert all(v <= 1.2 for v in values)
    assert brief[3] == pytest.approx(sum(values) / len(values))
    assert brief[4] == 1
    # The volume floor: an area is ranked exactly when it had at least 5 cases that day (counted
    # here from the simulator's plans). The day has streets on both sides of the floor.
    geography = load_geography()
    today = [p for p in case_plans if p.reported_at.date() == LAST]
    counts = {
        "street": Counter(geography.street_of(p.community_code) for p in today),
        "community": Counter(p.community_code for p in today),
    }
    for level, area, cases, score, is_ranked, _ in scorecard:
        assert cases == counts[level][area], (level, area)
        assert is_ranked == (cases >= 5 and score is not None), (level, area, cases, score)
    streets = [row for row in scorecard if row[0] == "street"]
    ranked = sorted((row for row in streets if row[4]), key=lambda row: row[5])
    assert 0 < len(ranked) < len(streets), "the day must rank some streets and leave others under the floor"
    assert [row[5] for row in ranked] == list(range(1, len(ranked) + 1))
    assert [row[3] for row in ranked] == sorted((row[3] for row in ranked), reverse=True)


def test_incremental_days_equal_a_full_refresh(tmp_path, published_marts, case_plans):
    """Day by day, the lake as it stood that evening and an incremental run recomputing
    only that day (lookback 0), against the full refresh on the final lake: every row of
    every mart and of the case-day fact is the same."""
    lake = tmp_path / "lake"
    settings = _settings(tmp_path / "chain", lake)
    marts.prepare(settings)
    marts.run_dbt(settings, "seed")
    for day in (LAST - timedelta(days=2), LAST - timedelta(days=1), LAST):
        write_lake(str(lake), [p for p in case_plans if p.reported_at.date() <= day], day)
        marts.pin_lake_versions(settings)  # the build reads the lake as it stands now
        variables = json.dumps({"as_of": day.isoformat(), "case_days_lookback_days": 0})
        marts.run_dbt(settings, "run", "--vars", variables)
    chained, full = marts.build_file(settings), marts.last_good_file(published_marts)
    for table in ("intermediate.int_case_days", *marts.REQUIRED_TABLES):
        assert _rows(chained, table) == _rows(full, table), table


def test_families_not_loaded_give_empty_well_formed_marts(published_marts, marts_lake):
    """The lake holds governance only: the build created the other families' silver tables
    empty, and their marts have every area and day with nothing counted."""
    from deltalake import DeltaTable

    for table in marts.OPTIONAL_SILVER_TABLES:
        assert DeltaTable(str(marts_lake / "silver" / table)).to_pyarrow_table().num_rows == 0, table
    with duckdb.connect(str(published_marts.published_marts_file), read_only=True) as con:
        for table in ("mart_resources_daily", "mart_resource_map", "mart_manhole_repair_costs"):
            assert con.execute(f"select count(*) from {table}").fetchall() == [(0,)], table
        for table, column in (
            ("mart_party_building_daily", "members"),
            ("mart_people_services_daily", "care_households"),
            ("mart_manhole_covers_daily", "cases_reported"),
        ):
            rows = con.execute(
                f"select count(*), sum({column}) from {table} where report_date = ?", [LAST]
            ).fetchall()
            assert rows == [(57, 0)], table


def test_the_published_file_holds_the_marts_only(published_marts):
    """What Superset and SQL Lab read: the marts, no staging, intermediate or seed
    relation; each with the rows of the last good build, which keeps every relation."""
    last_good = marts.last_good_file(published_marts)
    with duckdb.connect(str(published_marts.published_marts_file), read_only=True) as con:
        published = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables"
        ).fetchall()
        published_counts = {
            t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for _, t, _ in published
        }
    with duckdb.connect(str(last_good), read_only=True) as con:
        built_schemas = {
            r[0]
            for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        built_counts = {
            t: con.execute(f"select count(*) from main.{t}").fetchall()[0][0] for t in published_counts
        }
    assert sorted(published) == sorted(("main", t, "BASE TABLE") for t in marts.REQUIRED_TABLES)
    assert all(t.startswith("mart_") for _, t, _ in published)
    assert {"main", "staging", "intermediate", "reference"} <= built_schemas
    assert published_counts == built_counts
    assert published_counts["mart_case_measures_daily"] > 0


def test_a_failed_build_leaves_the_published_marts(tmp_path, published_marts):
    published, last_good = published_marts.published_marts_file, marts.last_good_file(published_marts)
    before = (published.read_bytes(), last_good.read_bytes())
    broken = published_marts.model_copy(update={"lake_path": str(tmp_path / "no-lake")})
    broken.__dict__.pop("lake", None)
    with pytest.raises(marts.MartsBuildError, match="left as they were"):
        marts.build(broken, as_of=LAST)
    assert (published.read_bytes(), last_good.read_bytes()) == before


def test_dbt_docs_generate_describes_the_marts(published_marts):
    env_target = published_marts.data_dir / "dbt" / "target"
    marts.prepare(published_marts)
    marts.run_dbt(published_marts, "docs", "generate", "--vars", json.dumps({"as_of": LAST.isoformat()}))
    catalog = json.loads((env_target / "catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads((env_target / "manifest.json").read_text(encoding="utf-8"))
    brief = manifest["nodes"]["model.civiclake.mart_leader_brief_daily"]
    assert "领导简报" in brief["description"]
    assert brief["columns"]["backlog_open_change_7d"]["description"]
    assert "model.civiclake.mart_sla_daily" in catalog["nodes"]
    assert (env_target / "index.html").exists()


def test_marts_build_on_the_command_line_builds_as_of_its_date(tmp_path, marts_lake, monkeypatch):
    """`civiclake marts build --date D` on a lake holding later days: the marts end on D."""
    from typer.testing import CliRunner

    from civiclake.cli import app

    day = LAST - timedelta(days=3)
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(marts_lake))
    monkeypatch.setenv("CIVICLAKE_SIM_CASES_PER_DAY", str(CASES_PER_DAY))
    result = CliRunner().invoke(app, ["marts", "build", "--date", day.isoformat()])
    assert result.exit_code == 0, result.output
    published = _settings(tmp_path, marts_lake).published_marts_file
    with duckdb.connect(str(published), read_only=True) as con:
        ((newest,),) = con.execute("select max(report_date) from mart_case_measures_daily").fetchall()
    assert newest == day
